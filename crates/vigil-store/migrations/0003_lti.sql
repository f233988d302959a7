-- LTI 1.3: the platforms (LMSs) vigil is registered with, vigil's own
-- signing keys, which exam a platform's resource link opens, and which
-- vigil person an LTI user is. Portable SQL; times are Unix milliseconds.

CREATE TABLE lti_platforms (
    issuer         TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    -- JSON array of deployment ids whose launches are accepted.
    deployment_ids TEXT NOT NULL,
    auth_login_url TEXT NOT NULL,
    jwks_url       TEXT NOT NULL,
    token_url      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (issuer, client_id)
);

CREATE TABLE lti_tool_keys (
    kid        TEXT PRIMARY KEY,
    -- PKCS#8 PEM of vigil's RSA key. The data directory is the operator's.
    pem        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- A resource link in a course opens one exam. A launch without a context
-- stores the empty string.
CREATE TABLE lti_links (
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    deployment_id    TEXT NOT NULL,
    context_id       TEXT NOT NULL,
    resource_link_id TEXT NOT NULL,
    exam_id          TEXT NOT NULL REFERENCES exams (id),
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (issuer, client_id, deployment_id, context_id, resource_link_id)
);

-- An LTI user (issuer, sub) is one vigil person id across exams.
CREATE TABLE lti_users (
    issuer     TEXT NOT NULL,
    sub        TEXT NOT NULL,
    person_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, sub)
);
