-- Unicode table and column names.
CREATE TABLE "straße" (
    "straße_id" INTEGER NOT NULL PRIMARY KEY,
    "näme" VARCHAR(40) NOT NULL
);
CREATE TABLE "café" (
    "café_id" INTEGER NOT NULL PRIMARY KEY,
    "straße_id" INTEGER NOT NULL,
    "prix_€" NUMERIC(6, 2),
    FOREIGN KEY ("straße_id") REFERENCES "straße" ("straße_id")
);
