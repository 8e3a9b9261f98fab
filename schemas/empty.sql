-- An empty table (no rows) that is a parent, and an empty child.
CREATE TABLE empty_parent (
    id INTEGER NOT NULL PRIMARY KEY,
    label VARCHAR(20)
);
CREATE TABLE empty_child (
    id INTEGER NOT NULL PRIMARY KEY,
    parent_id INTEGER,
    FOREIGN KEY (parent_id) REFERENCES empty_parent (id)
);
