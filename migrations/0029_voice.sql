-- Voice profiles (issue 18), owned by noizylab-voice: which provider voice, model,
-- settings, language and format a workspace speaks with. The audio itself is cached in
-- R2 under tts/<hash of everything that changes it>.mp3.

CREATE TABLE voice_profiles (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    name          TEXT NOT NULL,
    voice_id      TEXT NOT NULL,
    model_id      TEXT NOT NULL,
    settings      TEXT NOT NULL CHECK (json_valid(settings)),
    language      TEXT,
    output_format TEXT NOT NULL,
    is_default    INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (workspace_id, name)
) STRICT;

-- One default voice per workspace.
CREATE UNIQUE INDEX voice_profiles_default ON voice_profiles (workspace_id) WHERE is_default = 1;
