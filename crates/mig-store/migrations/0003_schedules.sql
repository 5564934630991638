-- Runs of signed schedules, as agents send them (one row per run per agent). id is the
-- server's (time-ordered): the exporters' cursor. runid is the agent's own number for the
-- message: a run delivered twice is stored once.
CREATE TABLE schedule_runs (
    id         BIGINT PRIMARY KEY,
    agentid    BIGINT NOT NULL REFERENCES agents (id),
    runid      BIGINT NOT NULL,
    scheduleid BIGINT NOT NULL REFERENCES actions (id),
    seq        BIGINT NOT NULL,
    ranat      BIGINT NOT NULL,
    status     TEXT NOT NULL,
    results    TEXT NOT NULL,
    added      BIGINT NOT NULL DEFAULT 0,
    removed    BIGINT NOT NULL DEFAULT 0,
    -- 1: run at once because events arrived, and it found something (an alerting schedule).
    alert      BIGINT NOT NULL DEFAULT 0,
    storedat   BIGINT NOT NULL,
    UNIQUE (agentid, runid)
);
CREATE INDEX schedule_runs_schedule ON schedule_runs (scheduleid, id);

-- How far each exporter got: the last schedule run it delivered.
CREATE TABLE export_cursors (
    sink      TEXT PRIMARY KEY,
    lastid    BIGINT NOT NULL,
    updatedat BIGINT NOT NULL
)
