-- NOT NULL cycle (Sakila): store.manager_staff_id -> staff and staff.store_id -> store,
-- both NOT NULL. MariaDB/MySQL variant: the second key is added by ALTER TABLE; there
-- are no deferrable constraints, so a loader turns FOREIGN_KEY_CHECKS off.
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
);
ALTER TABLE store ADD CONSTRAINT fk_store_manager
    FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id);
