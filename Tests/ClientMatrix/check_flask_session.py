# Flask-Session (SESSION_TYPE='redis') against Sesame, through Flask's test client: log in,
# read the session back, sliding idle expiry (SESSION_REFRESH_EACH_REQUEST) passed with
# DEBUG ADVANCE-TIME instead of sleeping, and log out.
# Needs: pip flask flask-session redis. Server flags: --enable-debug-command yes.
from datetime import timedelta

import redis
from flask import Flask, session
from flask_session import Session

from cm_common import HOST, PORT, advance, check, run, step

LIFETIME = timedelta(minutes=30)


def make_app(client):
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="client-matrix",
        SESSION_TYPE="redis",
        SESSION_REDIS=client,
        SESSION_KEY_PREFIX="session:",
        SESSION_PERMANENT=True,
        PERMANENT_SESSION_LIFETIME=LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    Session(app)

    @app.post("/login/<int:user_id>")
    def login(user_id):
        session["user_id"] = user_id
        session["visits"] = 0
        return "logged in"

    @app.get("/me")
    def me():
        if "user_id" not in session:
            return "anonymous"
        session["visits"] = session.get("visits", 0) + 1
        return f"user {session['user_id']} visits {session['visits']}"

    @app.post("/logout")
    def logout():
        session.clear()
        return "logged out"

    return app


def main():
    step("connect (redis-py default protocol)")
    r = redis.Redis(host=HOST, port=PORT, socket_timeout=5)
    r.ping()
    raw = redis.Redis(host=HOST, port=PORT, socket_timeout=5, decode_responses=True)
    app = make_app(r)
    web = app.test_client()

    step("anonymous request")
    check(web.get("/me").text == "anonymous", "anonymous /me")

    step("log in: session stored in Sesame with the lifetime as TTL")
    resp = web.post("/login/42")
    check(resp.status_code == 200 and resp.text == "logged in", f"login {resp.status_code} {resp.text}")
    keys = raw.keys("session:*")
    check(len(keys) == 1, f"session keys after login: {keys}")
    key = keys[0]
    ttl = raw.ttl(key)
    check(LIFETIME.total_seconds() - 5 <= ttl <= LIFETIME.total_seconds(), f"TTL of {key}: {ttl}")

    step("later requests read the session")
    check(web.get("/me").text == "user 42 visits 1", "first /me")
    check(web.get("/me").text == "user 42 visits 2", "second /me")

    step("sliding idle expiry: 20 min idle, a request refreshes the TTL, 20 min more")
    advance(raw, 20 * 60 * 1000)
    check(web.get("/me").text == "user 42 visits 3", "after 20 min idle")
    advance(raw, 20 * 60 * 1000)  # 40 min since login, 20 since the last request
    check(web.get("/me").text == "user 42 visits 4", "after 40 min with a request at 20")

    step("idle past PERMANENT_SESSION_LIFETIME: the session is gone")
    advance(raw, int(LIFETIME.total_seconds() * 1000) + 1000)
    check(raw.exists(key) == 0, f"{key} still exists after the lifetime")
    check(web.get("/me").text == "anonymous", "session survived idle expiry")

    step("log in again, log out: the session key is deleted")
    web.post("/login/7")
    check(web.get("/me").text == "user 7 visits 1", "second login")
    keys = raw.keys("session:*")
    check(len(keys) == 1, f"session keys after the second login: {keys}")
    resp = web.post("/logout")
    check(resp.text == "logged out", f"logout {resp.text}")
    check(raw.exists(keys[0]) == 0, f"{keys[0]} still exists after logout")
    check(web.get("/me").text == "anonymous", "still logged in after logout")
    r.close()
    raw.close()


run("flask-session", main)
