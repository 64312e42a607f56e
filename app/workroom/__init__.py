"""The contract workroom: messages, files, tasks (kanban) and calendar in one place (issue #17).

See docs/design/hourly-and-workroom.md.
"""
