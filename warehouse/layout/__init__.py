"""Questions about an ingested model's layout: consistency checks and export to old formats."""
