// The owner console: a small vanilla-JS page over /api/v1.
"use strict";
