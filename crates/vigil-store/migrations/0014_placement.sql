-- Several vigil nodes sharing one database (issue 15). Each node says it is
-- alive here, and each exam's live state is held by one node at a time,
-- under a lease the node renews; see vigil_core::placement. A single node
-- writes its own rows too, and never reads them.
CREATE TABLE cluster_nodes (
    node_id    TEXT PRIMARY KEY,
    -- Where the other nodes forward HTTP requests for this node's exams.
    url        TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);

CREATE TABLE exam_placements (
    exam_id    TEXT PRIMARY KEY REFERENCES exams (id),
    node_id    TEXT NOT NULL,
    -- Grows by one each time the exam changes hands.
    epoch      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX exam_placements_by_node ON exam_placements (node_id, expires_at);
