-- Star: one fact table with three dimension parents.
CREATE TABLE products (
    product_id INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR(60) NOT NULL,
    price NUMERIC(10, 2) NOT NULL
);
CREATE TABLE stores (
    store_id INTEGER NOT NULL PRIMARY KEY,
    city VARCHAR(40) NOT NULL
);
CREATE TABLE calendar (
    day DATE NOT NULL PRIMARY KEY,
    is_holiday BOOLEAN NOT NULL
);
CREATE TABLE sales (
    sale_id INTEGER NOT NULL PRIMARY KEY,
    product_id INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    day DATE NOT NULL,
    quantity INTEGER NOT NULL,
    FOREIGN KEY (product_id) REFERENCES products (product_id),
    FOREIGN KEY (store_id) REFERENCES stores (store_id),
    FOREIGN KEY (day) REFERENCES calendar (day)
);
