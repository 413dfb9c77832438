-- Records that a view set ($view_set) was (re)loaded at $version with $n_views views.
INSERT OR REPLACE INTO view_sets (view_set, version, n_views, loaded_at) VALUES ($view_set, $version, $n_views, now())
