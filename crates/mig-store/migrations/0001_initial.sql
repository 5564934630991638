-- One schema for SQLite and PostgreSQL: application-generated BIGINT ids, BIGINT Unix
-- milliseconds for times, JSON kept as TEXT, booleans as BIGINT 0/1.

CREATE TABLE agents (
    id              BIGINT PRIMARY KEY,
    name            TEXT NOT NULL,
    queueloc        TEXT NOT NULL UNIQUE,
    mode            TEXT NOT NULL,
    version         TEXT NOT NULL,
    pid             BIGINT NOT NULL,
    os              TEXT NOT NULL,
    arch            TEXT NOT NULL,
    starttime       BIGINT NOT NULL,
    heartbeattime   BIGINT NOT NULL,
    destructiontime BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL,
    environment     TEXT NOT NULL,
    tags            TEXT NOT NULL,
    -- The agent's public key (base64 ed25519), pinned on first registration.
    identity        TEXT NOT NULL DEFAULT '',
    authorized      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX agents_status ON agents (status);
CREATE INDEX agents_heartbeat ON agents (heartbeattime);
CREATE INDEX agents_name ON agents (name);

CREATE TABLE investigators (
    id             BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,
    pgpfingerprint TEXT NOT NULL UNIQUE,
    publickey      TEXT NOT NULL,
    status         TEXT NOT NULL,
    permission     TEXT NOT NULL,
    createdat      BIGINT NOT NULL,
    lastmodified   BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id             BIGINT PRIMARY KEY,
    investigatorid BIGINT NOT NULL REFERENCES investigators (id),
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    createdat      BIGINT NOT NULL,
    revoked        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE actions (
    id             BIGINT PRIMARY KEY,
    name           TEXT NOT NULL,
    target         TEXT NOT NULL,
    validfrom      BIGINT NOT NULL,
    expireafter    BIGINT NOT NULL,
    status         TEXT NOT NULL,
    starttime      BIGINT NOT NULL DEFAULT 0,
    finishtime     BIGINT NOT NULL DEFAULT 0,
    lastupdatetime BIGINT NOT NULL,
    -- The action exactly as signed and submitted (what agents receive).
    action_json    TEXT NOT NULL,
    createdby      BIGINT NOT NULL,
    -- Scheduler lease: which scheduler works on the action, until when.
    claimed_by     TEXT NOT NULL DEFAULT '',
    claim_until    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX actions_status ON actions (status, validfrom);

CREATE TABLE signatures (
    actionid       BIGINT NOT NULL REFERENCES actions (id),
    investigatorid BIGINT NOT NULL REFERENCES investigators (id),
    pgpsignature   TEXT NOT NULL,
    PRIMARY KEY (actionid, investigatorid)
);

CREATE TABLE commands (
    id         BIGINT PRIMARY KEY,
    actionid   BIGINT NOT NULL REFERENCES actions (id),
    agentid    BIGINT NOT NULL REFERENCES agents (id),
    status     TEXT NOT NULL,
    results    TEXT,
    found      BIGINT NOT NULL DEFAULT 0,
    createdat  BIGINT NOT NULL,
    starttime  BIGINT NOT NULL DEFAULT 0,
    finishtime BIGINT NOT NULL DEFAULT 0,
    -- Server time when the command reached its final status (for streaming new results).
    doneat     BIGINT NOT NULL DEFAULT 0,
    UNIQUE (actionid, agentid)
);
CREATE INDEX commands_action_status ON commands (actionid, status);
CREATE INDEX commands_agent ON commands (agentid);
CREATE INDEX commands_doneat ON commands (actionid, doneat);

-- Commands waiting for delivery: the built-in relay's durable per-agent queues, and the
-- outbox of the AMQP publisher.
CREATE TABLE relay_queue (
    commandid   BIGINT PRIMARY KEY REFERENCES commands (id),
    agentid     BIGINT NOT NULL,
    expireafter BIGINT NOT NULL,
    dispatched  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX relay_queue_agent ON relay_queue (agentid);

-- API token nonces already used, to refuse replays within the token window.
CREATE TABLE auth_nonces (
    fingerprint TEXT NOT NULL,
    nonce       BIGINT NOT NULL,
    seen        BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, nonce)
);
