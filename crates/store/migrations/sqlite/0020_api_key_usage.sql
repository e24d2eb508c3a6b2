-- API keys remember the address they were last used from (with the time already kept), and
-- may name a default project of their organisation for clients that need one.
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
ALTER TABLE api_keys ADD COLUMN default_project_id BLOB REFERENCES projects (id) ON DELETE SET NULL;
