/**
 * Versioned schema migrations. Each migration runs in one transaction
 * together with its `PRAGMA user_version` bump, after a VACUUM INTO backup
 * of the previous version (see library-db.ts). Never edit a migration that
 * has shipped: add a new one.
 */

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'datasets, DICOM hierarchy, plain images, blobs, label schema, annotations, splits, audit log, imports',
    sql: /* sql */ `
CREATE TABLE blobs (
  sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  size        INTEGER NOT NULL,
  media_type  TEXT NOT NULL,
  created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE datasets (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  description TEXT NOT NULL DEFAULT '',
  -- JSON array of 'classification' | 'detection' | 'segmentation'
  task_kinds  TEXT NOT NULL DEFAULT '[]',
  multi_label INTEGER NOT NULL DEFAULT 0,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE patients (
  id           INTEGER PRIMARY KEY,
  dataset_id   INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  -- PatientID, or a stand-in derived from the study when a file has none
  patient_key  TEXT NOT NULL,
  patient_name TEXT,
  birth_date   TEXT,
  sex          TEXT,
  UNIQUE (dataset_id, patient_key)
) STRICT;

CREATE TABLE studies (
  id               INTEGER PRIMARY KEY,
  patient_id       INTEGER NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  study_uid        TEXT NOT NULL,
  study_date       TEXT,
  study_time       TEXT,
  description      TEXT,
  accession_number TEXT,
  UNIQUE (patient_id, study_uid)
) STRICT;

CREATE TABLE series (
  id             INTEGER PRIMARY KEY,
  dataset_id     INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  study_id       INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  series_uid     TEXT NOT NULL,
  modality       TEXT,
  body_part      TEXT,
  description    TEXT,
  series_number  INTEGER,
  status         TEXT NOT NULL DEFAULT 'unlabeled'
                 CHECK (status IN ('unlabeled','in_progress','done','needs_review','approved','rejected')),
  status_comment TEXT,
  status_by      TEXT,
  status_at      TEXT,
  UNIQUE (study_id, series_uid)
) STRICT;
CREATE INDEX series_dataset ON series(dataset_id, modality);

-- One row per imported file: a DICOM instance or a plain image.
CREATE TABLE items (
  id                INTEGER PRIMARY KEY,
  dataset_id        INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  kind              TEXT NOT NULL CHECK (kind IN ('dicom','image')),
  -- the stored file: the DICOM file itself, or a metadata-free PNG of a plain image
  blob_sha256       TEXT NOT NULL REFERENCES blobs(sha256),
  -- hash of the file as the user had it: re-imports of the same file are duplicates
  source_sha256     TEXT NOT NULL,
  thumb_sha256      TEXT REFERENCES blobs(sha256),
  series_id         INTEGER REFERENCES series(id) ON DELETE CASCADE,
  sop_instance_uid  TEXT,
  sop_class_uid     TEXT,
  -- original file name relative to what the user imported; used to match label files
  source_name       TEXT NOT NULL,
  modality          TEXT,
  rows              INTEGER NOT NULL,
  columns           INTEGER NOT NULL,
  frames            INTEGER NOT NULL DEFAULT 1,
  samples_per_pixel INTEGER NOT NULL DEFAULT 1,
  photometric       TEXT,
  transfer_syntax   TEXT,
  pixel_spacing_row REAL,
  pixel_spacing_col REAL,
  instance_number   INTEGER,
  slice_position    REAL,
  status            TEXT NOT NULL DEFAULT 'unlabeled'
                    CHECK (status IN ('unlabeled','in_progress','done','needs_review','approved','rejected')),
  status_comment    TEXT,
  status_by         TEXT,
  status_at         TEXT,
  imported_at       TEXT NOT NULL,
  UNIQUE (dataset_id, source_sha256)
) STRICT;
CREATE UNIQUE INDEX items_dataset_sop ON items(dataset_id, sop_instance_uid) WHERE sop_instance_uid IS NOT NULL;
CREATE INDEX items_dataset ON items(dataset_id);
CREATE INDEX items_dataset_status ON items(dataset_id, status, id);
CREATE INDEX items_dataset_modality ON items(dataset_id, modality, id);
CREATE INDEX items_dataset_source ON items(dataset_id, source_name);
CREATE INDEX items_series_order ON items(series_id, instance_number, slice_position);
CREATE INDEX items_blob ON items(blob_sha256);
CREATE INDEX items_thumb ON items(thumb_sha256);

-- Per-frame data of multi-frame instances (slice position for ordering).
CREATE TABLE frames (
  item_id        INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  frame_index    INTEGER NOT NULL,
  slice_position REAL,
  PRIMARY KEY (item_id, frame_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE label_classes (
  id         INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  color      TEXT NOT NULL,
  hotkey     TEXT,
  position   INTEGER NOT NULL DEFAULT 0,
  UNIQUE (dataset_id, name)
) STRICT;

CREATE TABLE annotations (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  item_id     INTEGER REFERENCES items(id) ON DELETE CASCADE,
  series_id   INTEGER REFERENCES series(id) ON DELETE CASCADE,
  -- NULL: the whole image / instance
  frame_index INTEGER,
  class_id    INTEGER NOT NULL REFERENCES label_classes(id),
  kind        TEXT NOT NULL CHECK (kind IN ('class','box','polygon','mask')),
  -- JSON: box {x,y,width,height}; polygon {points:[[x,y],...]}; mask {rle:{size,counts}} (image pixels)
  geometry    TEXT,
  mask_png    BLOB,
  score       REAL,
  source      TEXT NOT NULL CHECK (source IN ('human','model','imported')),
  status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','proposed','rejected','deleted')),
  author      TEXT NOT NULL,
  run_id      INTEGER,
  version     INTEGER NOT NULL DEFAULT 1,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  CHECK ((item_id IS NULL) <> (series_id IS NULL))
) STRICT;
CREATE INDEX annotations_item ON annotations(item_id, frame_index);
CREATE INDEX annotations_series ON annotations(series_id);
-- covering indexes for the browser's class and label-source filters (item-query.ts)
CREATE INDEX annotations_dataset_class ON annotations(dataset_id, class_id, status, item_id);
CREATE INDEX annotations_dataset_source ON annotations(dataset_id, source, status, item_id);

CREATE TABLE splits (
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  split       TEXT NOT NULL CHECK (split IN ('train','val','test')),
  -- 'auto': drawn by Fovea (seeded); 'user': set by a person, never redrawn silently
  origin      TEXT NOT NULL CHECK (origin IN ('auto','user')),
  seed        INTEGER,
  assigned_at TEXT NOT NULL,
  PRIMARY KEY (dataset_id, item_id)
) STRICT;
CREATE INDEX splits_item ON splits(item_id);
CREATE INDEX splits_dataset_split ON splits(dataset_id, split, item_id);

-- Append-only: triggers below refuse UPDATE and DELETE. Each row carries the
-- previous row's hash (tamper evidence). No PHI values, only ids.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          TEXT NOT NULL,
  os_user     TEXT NOT NULL,
  actor       TEXT,
  action      TEXT NOT NULL,
  object_type TEXT,
  object_id   TEXT,
  outcome     TEXT NOT NULL,
  details     TEXT,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE import_jobs (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  started_at  TEXT NOT NULL,
  finished_at TEXT,
  status      TEXT NOT NULL CHECK (status IN ('running','done','cancelled','failed')),
  summary     TEXT
) STRICT;

CREATE TABLE import_files (
  job_id     INTEGER NOT NULL REFERENCES import_jobs(id) ON DELETE CASCADE,
  path       TEXT NOT NULL,
  outcome    TEXT NOT NULL CHECK (outcome IN ('imported','duplicate','skipped','failed')),
  reason     TEXT,
  item_id    INTEGER REFERENCES items(id) ON DELETE SET NULL,
  PRIMARY KEY (job_id, path)
) STRICT;

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`,
  },
  {
    version: 2,
    description: 'training runs: config, seed, data snapshot, backend, per-epoch and per-batch curves, metrics',
    sql: /* sql */ `
CREATE TABLE runs (
  id               INTEGER PRIMARY KEY,
  dataset_id       INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  task             TEXT NOT NULL CHECK (task IN ('classification','detection','segmentation')),
  status           TEXT NOT NULL CHECK (status IN ('running','done','cancelled','stopped-early','failed','interrupted')),
  -- TrainConfig as JSON (contract/ml.ts), seed included
  config           TEXT NOT NULL,
  seed             INTEGER NOT NULL,
  -- the backend the run actually used
  backend          TEXT,
  -- which items and which label versions the run trained on, and the split summary (JSON)
  snapshot         TEXT NOT NULL,
  epochs_completed INTEGER NOT NULL DEFAULT 0,
  best_epoch       INTEGER,
  -- best validation metrics (JSON)
  metrics          TEXT,
  error            TEXT,
  -- set by 'fovea runs cancel' or the UI; the training process polls it
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  pid              INTEGER,
  heartbeat_at     TEXT,
  created_at       TEXT NOT NULL,
  finished_at      TEXT
) STRICT;
CREATE INDEX runs_dataset ON runs(dataset_id, id);

CREATE TABLE run_epochs (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch         INTEGER NOT NULL,
  train_loss    REAL,
  val_loss      REAL,
  train_metrics TEXT,
  val_metrics   TEXT,
  best          INTEGER NOT NULL DEFAULT 0,
  seconds       REAL,
  PRIMARY KEY (run_id, epoch)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_batches (
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  batch             INTEGER NOT NULL,
  loss              REAL NOT NULL,
  images_per_second REAL,
  PRIMARY KEY (run_id, epoch, batch)
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 3,
    description: 'model-assisted labeling and evaluation: per-item uncertainty of a run (active-learning queue), stored evaluations',
    sql: /* sql */ `
-- One score per (run, item): how unsure the run's model is about the item (higher: label it first).
-- Written by predict (core/predict); the browser sorts by it (item-query.ts, sort 'uncertainty').
CREATE TABLE item_uncertainty (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  score       REAL NOT NULL,
  -- 'entropy' | 'margin' | 'box-confidence' | 'uncertain-area'
  method      TEXT NOT NULL,
  computed_at TEXT NOT NULL,
  PRIMARY KEY (run_id, item_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX item_uncertainty_item ON item_uncertainty(item_id, run_id, score);
CREATE INDEX item_uncertainty_dataset ON item_uncertainty(dataset_id, computed_at);

-- The latest evaluation of a run on a split of a dataset (core/evaluation/evaluate-run.ts).
CREATE TABLE evaluations (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  split       TEXT NOT NULL CHECK (split IN ('train','val','test','all')),
  task        TEXT NOT NULL CHECK (task IN ('classification','detection','segmentation')),
  created_at  TEXT NOT NULL,
  -- the report without its per-image lists (JSON)
  metrics     TEXT NOT NULL,
  -- the per-image results (JSON array)
  per_image   TEXT NOT NULL,
  UNIQUE (run_id, dataset_id, split)
) STRICT;
`,
  },
  {
    version: 4,
    description: 'the active-learning queue in rank order: most uncertain first is an index walk',
    sql: /* sql */ `
CREATE INDEX item_uncertainty_rank ON item_uncertainty(run_id, score DESC, item_id);
`,
  },
  {
    version: 5,
    description: 'datamgmt: deleting items looks up their import records by index (ON DELETE SET NULL scanned import_files once per item)',
    sql: /* sql */ `
CREATE INDEX import_files_item ON import_files(item_id);
`,
  },
  {
    version: 6,
    description: 'measure: kept measurements (length, angle, ellipse/rectangle/freehand regions) with the values the core computed',
    sql: /* sql */ `
-- One measurement on one image (item, frame); contract/measure.ts says what the points and values mean.
CREATE TABLE measurements (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  frame_index INTEGER NOT NULL DEFAULT 0,
  kind        TEXT NOT NULL CHECK (kind IN ('length','angle','ellipse','rectangle','freehand')),
  -- JSON array of [x, y] in image pixels
  points      TEXT NOT NULL,
  note        TEXT NOT NULL DEFAULT '',
  -- JSON MeasurementValues, computed by the core from the stored pixels
  vals        TEXT NOT NULL,
  author      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX measurements_item ON measurements(item_id, frame_index, id);
CREATE INDEX measurements_dataset ON measurements(dataset_id, id);
`,
  },
  {
    version: 7,
    description: 'runs: a name and notes a person gives a run (issue 19, task runs)',
    sql: /* sql */ `
-- NULL: no name given (the UI says "run 3"); notes are free text, '' when none.
ALTER TABLE runs ADD COLUMN name TEXT;
ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT '';
`,
  },
  {
    version: 8,
    description: 'datajob: a dataset being deleted in batches (a job) is marked, so lists leave it out and a delete cut short resumes on open',
    sql: /* sql */ `
-- NULL: not being deleted; else JSON of what the dataset held when its delete began (DatasetFootprint).
ALTER TABLE datasets ADD COLUMN deleting TEXT;
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
