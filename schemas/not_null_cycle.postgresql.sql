-- NOT NULL cycle (Sakila), PostgreSQL variant: both keys DEFERRABLE INITIALLY DEFERRED,
-- so rows of both tables can be inserted in one transaction in any order.
CREATE TABLE store (
    store_id INTEGER NOT NULL PRIMARY KEY,
    manager_staff_id INTEGER NOT NULL,
    address VARCHAR(80) NOT NULL
);
CREATE TABLE staff (
    staff_id INTEGER NOT NULL PRIMARY KEY,
    store_id INTEGER NOT NULL,
    first_name VARCHAR(40) NOT NULL,
    CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id)
        DEFERRABLE INITIALLY DEFERRED
);
ALTER TABLE store ADD CONSTRAINT fk_store_manager
    FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id) DEFERRABLE INITIALLY DEFERRED;
