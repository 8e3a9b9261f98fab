-- NOT NULL cycle (Sakila), SQLite variant: forward reference in CREATE TABLE; SQLite
-- checks keys only when PRAGMA foreign_keys is on, and can defer them
-- (DEFERRABLE INITIALLY DEFERRED is accepted and honoured).
CREATE TABLE store (
    store_id INTEGER NOT NULL PRIMARY KEY,
    manager_staff_id INTEGER NOT NULL,
    address VARCHAR(80) NOT NULL,
    CONSTRAINT fk_store_manager FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id)
        DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE staff (
    staff_id INTEGER NOT NULL PRIMARY KEY,
    store_id INTEGER NOT NULL,
    first_name VARCHAR(40) NOT NULL,
    CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id)
        DEFERRABLE INITIALLY DEFERRED
);
