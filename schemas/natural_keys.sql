-- Natural string keys with leading zeros (Northwind's Territories): they must stay text.
CREATE TABLE territories (
    territory_id VARCHAR(20) NOT NULL PRIMARY KEY,
    description VARCHAR(50) NOT NULL
);
CREATE TABLE employee_territories (
    employee_id INTEGER NOT NULL,
    territory_id VARCHAR(20) NOT NULL,
    PRIMARY KEY (employee_id, territory_id),
    FOREIGN KEY (territory_id) REFERENCES territories (territory_id)
);
INSERT INTO territories (territory_id, description) VALUES ('01581', 'Westboro');
INSERT INTO territories (territory_id, description) VALUES ('01730', 'Bedford');
INSERT INTO territories (territory_id, description) VALUES ('02116', 'Boston');
INSERT INTO employee_territories (employee_id, territory_id) VALUES (1, '01581');
INSERT INTO employee_territories (employee_id, territory_id) VALUES (1, '02116');
INSERT INTO employee_territories (employee_id, territory_id) VALUES (2, '01730');
