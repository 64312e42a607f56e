"""The console's "Quarantine" page: the files the antivirus blocked (moderators see them, admins
delete them for good). ``actions.py`` calls app/storage/files.py and audits."""
