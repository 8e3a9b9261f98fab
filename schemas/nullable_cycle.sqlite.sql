-- Nullable cycle (SQLite variant: forward references instead of ALTER TABLE, which
-- SQLite cannot use to add a constraint).
CREATE TABLE departments (
    department_id INTEGER NOT NULL PRIMARY KEY,
    head_id INTEGER,
    name VARCHAR(40) NOT NULL,
    CONSTRAINT fk_departments_head FOREIGN KEY (head_id) REFERENCES people (person_id)
);
CREATE TABLE people (
    person_id INTEGER NOT NULL PRIMARY KEY,
    department_id INTEGER NOT NULL,
    CONSTRAINT fk_people_department FOREIGN KEY (department_id)
        REFERENCES departments (department_id)
);
