# Django's cache session engine on Django's built-in RedisCache backend, against Sesame:
# create, load, modify, flush, idle expiry and per-session expiry (DEBUG ADVANCE-TIME, no
# sleeping), then the cache calls the sessions' neighbours make (set_many = MULTI/MSET/EXPIRE/
# EXEC, get_many = MGET, incr, touch).
# Needs: pip django redis. Server flags: --enable-debug-command yes.
import django
import redis
from django.conf import settings

from cm_common import HOST, PORT, advance, check, run, step

AGE = 1800

settings.configure(
    SECRET_KEY="client-matrix",
    INSTALLED_APPS=["django.contrib.sessions"],
    CACHES={"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://{HOST}:{PORT}/0",
    }},
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    SESSION_COOKIE_AGE=AGE,
    USE_TZ=True,
)
django.setup()

from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.core.cache import cache  # noqa: E402


def main():
    raw = redis.Redis(host=HOST, port=PORT, socket_timeout=5, decode_responses=True)
    raw.ping()

    def redis_key(session_key):
        return cache.make_key(SessionStore.cache_key_prefix + session_key)

    step("create (SET NX EX)")
    s = SessionStore()
    s["user_id"] = 42
    s["cart"] = ["apple"]
    s.create()
    key = s.session_key
    check(key and len(key) == 32, f"session key {key!r}")
    ttl = raw.ttl(redis_key(key))
    check(AGE - 5 <= ttl <= AGE, f"TTL of {redis_key(key)}: {ttl} (keys: {raw.keys('*')})")

    step("exists / load")
    check(SessionStore().exists(key), "exists() after create")
    loaded = SessionStore(session_key=key)
    check(loaded["user_id"] == 42 and loaded["cart"] == ["apple"], f"loaded {dict(loaded.items())}")

    step("modify and save (GET then SET EX)")
    loaded["cart"] = ["apple", "pear"]
    loaded.save()
    again = SessionStore(session_key=key)
    check(again["cart"] == ["apple", "pear"], f"after modify {dict(again.items())}")

    step("idle expiry: alive just before SESSION_COOKIE_AGE, gone after")
    advance(raw, (AGE - 10) * 1000)
    check(SessionStore(session_key=key).get("user_id") == 42, "session expired too early")
    advance(raw, 11 * 1000)
    check(not SessionStore().exists(key), "session still exists after SESSION_COOKIE_AGE")
    expired = SessionStore(session_key=key)
    check(expired.get("user_id") is None, f"expired session still loads {dict(expired.items())}")

    step("per-session expiry (set_expiry(60))")
    short = SessionStore()
    short["user_id"] = 7
    short.set_expiry(60)
    short.save()
    skey = short.session_key
    ttl = raw.ttl(redis_key(skey))
    check(55 <= ttl <= 60, f"TTL with set_expiry(60): {ttl}")
    advance(raw, 61 * 1000)
    check(SessionStore(session_key=skey).get("user_id") is None, "set_expiry(60) session alive after 61 s")

    step("flush (log out): DEL and a new, empty session")
    s = SessionStore()
    s["user_id"] = 9
    s.create()
    old = s.session_key
    s.flush()
    check(not SessionStore().exists(old), "flushed session still exists")
    check(raw.exists(redis_key(old)) == 0, "flushed key still in Sesame")
    check(s.session_key is None and dict(s.items()) == {}, "flush left data")

    step("cycle_key (log in: new key, same data, old key deleted)")
    s = SessionStore()
    s["user_id"] = 11
    s.create()
    before = s.session_key
    s.cycle_key()
    check(s.session_key != before, "cycle_key kept the key")
    check(not SessionStore().exists(before), "old key after cycle_key")
    check(SessionStore(session_key=s.session_key)["user_id"] == 11, "data after cycle_key")

    step("cache.set_many (MULTI/MSET/EXPIRE/EXEC) and get_many (MGET)")
    failed = cache.set_many({"a": 1, "b": "two", "c": [3]}, timeout=30)
    check(failed == [], f"set_many failed keys {failed}")
    got = cache.get_many(["a", "b", "c", "nope"])
    check(got == {"a": 1, "b": "two", "c": [3]}, f"get_many {got}")
    ttl = raw.ttl(cache.make_key("b"))
    check(25 <= ttl <= 30, f"TTL after set_many: {ttl}")

    step("cache.incr (EXISTS + INCRBY)")
    check(cache.incr("a") == 2 and cache.incr("a", 10) == 12, "incr")
    check(cache.get("a") == 12, f"get after incr {cache.get('a')}")

    step("cache.touch (EXPIRE / PERSIST)")
    check(cache.touch("b", 300) is True, "touch 300")
    ttl = raw.ttl(cache.make_key("b"))
    check(295 <= ttl <= 300, f"TTL after touch: {ttl}")
    check(cache.touch("b", None) is True, "touch None")
    check(raw.ttl(cache.make_key("b")) == -1, "PERSIST via touch(None)")

    step("cache.add (SET NX) / delete_many")
    check(cache.add("new", "x", 30) is True and cache.add("new", "y", 30) is False, "add")
    cache.delete_many(["a", "b", "c", "new"])
    check(cache.get_many(["a", "b", "c", "new"]) == {}, "delete_many")
    raw.close()


run("django-sessions", main)
