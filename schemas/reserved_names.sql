-- Reserved words and spaces in table and column names. Identifiers are double-quoted
-- (the loader turns on ANSI_QUOTES for MariaDB/MySQL).
CREATE TABLE "group" (
    "select" INTEGER NOT NULL PRIMARY KEY,
    "from" VARCHAR(20) NOT NULL
);
CREATE TABLE "order" (
    "where" INTEGER NOT NULL PRIMARY KEY,
    "select" INTEGER NOT NULL,
    "unit price" NUMERIC(10, 2),
    FOREIGN KEY ("select") REFERENCES "group" ("select")
);
CREATE TABLE "Order Details" (
    "Order ID" INTEGER NOT NULL,
    "Line No" INTEGER NOT NULL,
    "table" VARCHAR(10),
    PRIMARY KEY ("Order ID", "Line No"),
    FOREIGN KEY ("Order ID") REFERENCES "order" ("where")
);
