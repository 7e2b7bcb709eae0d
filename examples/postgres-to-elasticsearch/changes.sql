-- Changes to make once the pipeline runs; each shows up in Elasticsearch
-- within a second or two. See README.md for the queries that show them.

-- An update: the kettle gets cheaper (document shop.public.products/_doc/1).
UPDATE products SET price = 34.90, in_stock = in_stock - 1 WHERE sku = 'KT-100';

-- An insert: a new customer and her first order.
INSERT INTO customers (email, name, city) VALUES ('margaret@example.com', 'Margaret Hamilton', 'Boston');
INSERT INTO orders (customer_id, product_id, quantity, total, status)
    SELECT id, 5, 2, 24.00, 'paid' FROM customers WHERE email = 'margaret@example.com';

-- An update of several rows: every paid order ships.
UPDATE orders SET status = 'shipped' WHERE status = 'paid';

-- A delete: the cancelled order goes (document shop.public.orders/_doc/7 is deleted).
DELETE FROM orders WHERE status = 'cancelled';
