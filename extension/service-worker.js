/*
 * netmon extension, Chromium-family build (Manifest V3): the service worker runs the same
 * scripts as Firefox's background page.
 */
"use strict";

/* global importScripts */
importScripts("logic.js", "api.js", "background.js");
