-- truncate: empty one of the queue's tables ({table}, written in per table).

TRUNCATE {table}
