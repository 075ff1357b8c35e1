//! The local HTTP API for netmon (JSON, OpenAPI, Swagger UI, Server-Sent Events) and the
//! static dashboard. Not built yet: see ARCHITECTURE.md for the plan.
