-- Nullable cycle: departments.head_id -> people (nullable), people.department_id ->
-- departments (NOT NULL). Broken at the nullable key. The cyclic key is added by
-- ALTER TABLE because PostgreSQL and MariaDB need the parent to exist first.
CREATE TABLE departments (
    department_id INTEGER NOT NULL PRIMARY KEY,
    head_id INTEGER,
    name VARCHAR(40) NOT NULL
);
CREATE TABLE people (
    person_id INTEGER NOT NULL PRIMARY KEY,
    department_id INTEGER NOT NULL,
    CONSTRAINT fk_people_department FOREIGN KEY (department_id)
        REFERENCES departments (department_id)
);
ALTER TABLE departments ADD CONSTRAINT fk_departments_head
    FOREIGN KEY (head_id) REFERENCES people (person_id);
