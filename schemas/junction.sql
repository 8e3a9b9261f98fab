-- Junction (many-to-many) table: enrollments(student_id, course_id), both FKs, as PK.
CREATE TABLE students (
    student_id INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR(60) NOT NULL
);
CREATE TABLE courses (
    course_id INTEGER NOT NULL PRIMARY KEY,
    title VARCHAR(60) NOT NULL
);
CREATE TABLE enrollments (
    student_id INTEGER NOT NULL,
    course_id INTEGER NOT NULL,
    grade CHAR(1),
    PRIMARY KEY (student_id, course_id),
    FOREIGN KEY (student_id) REFERENCES students (student_id),
    FOREIGN KEY (course_id) REFERENCES courses (course_id)
);
