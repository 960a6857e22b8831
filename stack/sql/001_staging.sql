-- 001_staging: the staging contract (docs/data-contracts.md).
-- One typed column per randomuser field the pipeline keeps; primary key is
-- login.uuid. Credentials (login.password, salt, md5, sha1, sha256) have no
-- column on purpose: they never enter the pipeline. Ages are not stored: they
-- change with the calendar and are derived downstream from the dates.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS ops;

CREATE TABLE IF NOT EXISTS staging.users (
    user_id           uuid PRIMARY KEY,            -- login.uuid
    gender            text,                        -- 'male' | 'female'
    title             text,                        -- name.title
    first_name        text NOT NULL,               -- name.first
    last_name         text NOT NULL,               -- name.last
    street_number     integer,                     -- location.street.number
    street_name       text,                        -- location.street.name
    city              text,
    state             text,
    country           text,
    postcode          text,                        -- a number or a string upstream, by nationality
    latitude          double precision,            -- location.coordinates (strings upstream)
    longitude         double precision,
    tz_offset         text,                        -- location.timezone.offset, e.g. '+9:30'
    tz_description    text,
    email             text NOT NULL,
    username          text,                        -- login.username
    dob               timestamptz,                 -- dob.date
    registered_at     timestamptz,                 -- registered.date
    phone             text,
    cell              text,
    id_name           text,                        -- id.name ('' for some nationalities)
    id_value          text,                        -- id.value (NULL where upstream has null)
    picture_large     text,
    picture_medium    text,
    picture_thumbnail text,
    nat               text NOT NULL,               -- two-letter nationality code
    -- lineage: where and when this row came from
    source_url        text NOT NULL,               -- page URL without credentials
    source_seed       text NOT NULL,               -- info.seed of the page
    source_page       integer NOT NULL,            -- info.page
    fetched_at        timestamptz NOT NULL,
    run_id            text NOT NULL,               -- Airflow run id or a loader-made id
    loaded_at         timestamptz NOT NULL DEFAULT now()
);

-- Records that failed validation, and whole pages that could not be parsed.
-- raw_text never holds credentials: the loader removes them before storing.
CREATE TABLE IF NOT EXISTS staging.rejects (
    reject_id     bigserial PRIMARY KEY,
    run_id        text NOT NULL,
    source_url    text NOT NULL,
    source_seed   text,
    source_page   integer,
    record_index  integer,                         -- position in the page; NULL = whole page
    reason        text NOT NULL,
    raw_text      text,
    fetched_at    timestamptz NOT NULL,
    rejected_at   timestamptz NOT NULL DEFAULT now()
);
