-- Self-reference: employees.manager_id -> employees (nullable; the root has none).
CREATE TABLE employees (
    employee_id INTEGER NOT NULL PRIMARY KEY,
    manager_id INTEGER,
    name VARCHAR(60) NOT NULL,
    FOREIGN KEY (manager_id) REFERENCES employees (employee_id)
);
INSERT INTO employees (employee_id, manager_id, name) VALUES (1, NULL, 'Ada');
INSERT INTO employees (employee_id, manager_id, name) VALUES (2, 1, 'Grace');
INSERT INTO employees (employee_id, manager_id, name) VALUES (3, 1, 'Alan');
