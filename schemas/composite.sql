-- Composite primary key and composite foreign key; a junction table whose primary key
-- is made of its two foreign keys.
CREATE TABLE orders (
    region CHAR(2) NOT NULL,
    order_no INTEGER NOT NULL,
    placed_on DATE NOT NULL,
    PRIMARY KEY (region, order_no)
);
CREATE TABLE order_lines (
    region CHAR(2) NOT NULL,
    order_no INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (region, order_no, line_no),
    CONSTRAINT fk_lines_order FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no)
);
CREATE TABLE tags (
    tag_id INTEGER NOT NULL PRIMARY KEY,
    label VARCHAR(20) NOT NULL
);
CREATE TABLE order_tags (
    region CHAR(2) NOT NULL,
    order_no INTEGER NOT NULL,
    tag_id INTEGER NOT NULL,
    PRIMARY KEY (region, order_no, tag_id),
    FOREIGN KEY (region, order_no) REFERENCES orders (region, order_no),
    FOREIGN KEY (tag_id) REFERENCES tags (tag_id)
);
