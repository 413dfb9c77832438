"""The Streamlit dashboard: read-only data access, shared widgets, the SQL console, the app."""
