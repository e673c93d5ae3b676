"""The browser interfaces: the operators' console (``/console``) and the end users' hosted connect page
(``/connect``). Jinja2 templates and the project's own CSS and JS, served from this package; no build step
and no third-party assets. Routes here translate HTTP to service calls and back, nothing more."""
