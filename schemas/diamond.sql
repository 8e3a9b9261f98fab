-- Diamond: payment has two parents (rental, customer) and rental -> customer, so the
-- two paths payment -> rental -> customer and payment -> customer must agree.
CREATE TABLE customer (
    customer_id INTEGER NOT NULL PRIMARY KEY,
    email VARCHAR(80) NOT NULL
);
CREATE TABLE rental (
    rental_id INTEGER NOT NULL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    rented_at TIMESTAMP NOT NULL,
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id)
);
CREATE TABLE payment (
    payment_id INTEGER NOT NULL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    rental_id INTEGER,
    amount NUMERIC(5, 2) NOT NULL,
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id),
    FOREIGN KEY (rental_id) REFERENCES rental (rental_id)
);
