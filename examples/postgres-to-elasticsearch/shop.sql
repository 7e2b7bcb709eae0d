-- The shop schema of the postgres-to-elasticsearch example, with seed rows.
-- docker-compose.yml runs it once, when PostgreSQL's data volume is created
-- (database "shop"); elsewhere: psql -d shop -f shop.sql

CREATE TABLE customers (
    id         serial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    city       text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id          serial PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text,
    category    text NOT NULL,
    price       numeric(10, 2) NOT NULL CHECK (price >= 0),
    in_stock    integer NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    product_id  integer NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    total       numeric(10, 2) NOT NULL,
    status      text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
    ordered_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO customers (email, name, city) VALUES
    ('ada@example.com',    'Ada Lovelace',     'London'),
    ('grace@example.com',  'Grace Hopper',     'New York'),
    ('alan@example.com',   'Alan Turing',      'Manchester'),
    ('edsger@example.com', 'Edsger Dijkstra',  'Eindhoven'),
    ('barbara@example.com','Barbara Liskov',   'Boston');

INSERT INTO products (sku, name, description, category, price, in_stock) VALUES
    ('KT-100', 'Electric kettle',      'A 1.7 litre kettle with a stainless steel body.', 'kitchen', 39.90, 25),
    ('TP-200', 'Teapot',               'A porcelain teapot for four cups.',               'kitchen', 24.50, 40),
    ('MG-300', 'Coffee mug',           'A 350 ml stoneware mug.',                         'kitchen',  9.95, 120),
    ('LB-400', 'Reading lamp',         'A dimmable LED desk lamp.',                       'home',    49.00, 15),
    ('NB-500', 'Dotted notebook',      'A5, 160 pages, dotted grid.',                     'office',  12.00, 80),
    ('PN-600', 'Fountain pen',         'A steel nib fountain pen with a converter.',      'office',  32.00, 30);

INSERT INTO orders (customer_id, product_id, quantity, total, status) VALUES
    (1, 1, 1, 39.90, 'paid'),
    (1, 3, 4, 39.80, 'shipped'),
    (2, 6, 1, 32.00, 'new'),
    (3, 5, 3, 36.00, 'paid'),
    (4, 2, 1, 24.50, 'shipped'),
    (5, 4, 2, 98.00, 'new'),
    (2, 3, 2, 19.90, 'cancelled'),
    (3, 1, 1, 39.90, 'new');
