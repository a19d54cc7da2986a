"""gunicorn settings for Amanat: /etc/amanat/gunicorn.conf.py (see docs/deployment.md)."""

import multiprocessing

bind = "unix:/run/amanat/gunicorn.sock"
umask = 0o007  # the socket: amanat and the www-data group (nginx) only
# Sync workers, as benchmarked (bench/RESULTS.md). Each sign-in hashes with Argon2id at 64 MiB,
# so budget about 150 MiB per worker. nginx buffers slow clients, so a few workers go far.
workers = min(2 * multiprocessing.cpu_count() + 1, 9)
worker_class = "sync"
timeout = 300  # a 200 MiB evidence upload is hashed and encrypted inside one request
graceful_timeout = 30
max_requests = 2000  # recycle workers now and then
max_requests_jitter = 200
# Only nginx on this machine talks to us; it sets X-Forwarded-Proto.
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "/var/log/amanat/access.log"
errorlog = "/var/log/amanat/error.log"
# No query strings in the access log (search terms could name people): method, path, status.
access_log_format = '%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'
loglevel = "info"
capture_output = True  # the app's own log lines go to errorlog
