-- Changes to watch arrive in /tmp/penstock-inventory.txt.
USE inventory;
UPDATE customers SET email = 'sally@acme.com' WHERE id = 1;
INSERT INTO products (name, description, weight) VALUES ('rocks', 'box of assorted rocks', 5.3);
ALTER TABLE products ADD COLUMN stock INT NOT NULL DEFAULT 0;
UPDATE products SET stock = 10 WHERE name = 'rocks';
DELETE FROM customers WHERE id = 4;
