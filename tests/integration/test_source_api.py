"""userstream-source over real HTTP: parameters and upstream's fallbacks,
determinism, formats and headers, errors, bad requests, program behaviour."""
import json
import re
import signal
import subprocess
import time

import pytest

from test_source_util import Server, binary


@pytest.fixture(scope="module")
def server():
    with Server() as s:
        yield s


def get_json(server, path):
    status, headers, body = server.get(path)
    assert status == 200, body[:200]
    return json.loads(body)


def users(server, query):
    return get_json(server, "/api/?" + query)["results"]


# ---- determinism -----------------------------------------------------------

def test_same_request_same_bytes(server):
    a = server.get("/api/1.4/?seed=det&results=50&page=3")[2]
    b = server.get("/api/1.4/?seed=det&results=50&page=3")[2]
    assert a == b


def test_pages_differ_and_are_seed_plus_page(server):
    p1 = users(server, "seed=abc&results=10")
    p2 = users(server, "seed=abc&results=10&page=2")
    assert {u["login"]["uuid"] for u in p1}.isdisjoint({u["login"]["uuid"] for u in p2})
    # Upstream keys page n on seed + String(n): page 2 of "abc" is page 1 of "abc2".
    assert p2 == users(server, "seed=abc2&results=10")
    assert users(server, "seed=abc&page=1&results=3") == users(server, "seed=abc&results=3")


def test_record_does_not_depend_on_results_or_inc(server):
    many = users(server, "seed=prefix&results=20")
    assert users(server, "seed=prefix&results=5") == many[:5]
    names = users(server, "seed=prefix&results=20&inc=name")
    assert [u["name"] for u in names] == [u["name"] for u in many]


def test_without_seed_a_random_seed_is_reported(server):
    body = get_json(server, "/api/?results=4")
    seed = body["info"]["seed"]
    assert re.fullmatch(r"[a-f0-9]{16}", seed)
    again = get_json(server, f"/api/?results=4&seed={seed}")
    assert again["results"] == body["results"]
    assert get_json(server, "/api/?results=4")["info"]["seed"] != seed


# ---- parameters --------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("3", 3), ("3.0", 3), ("1e1", 10), ("0x5", 5), ("%205", 5), ("5000", 5000),
    ("0", 1), ("-1", 1), ("abc", 1), ("2.5", 1), ("5001", 1), ("", 1), ("Infinity", 1),
])
def test_results_fallbacks(server, value, expected):
    body = get_json(server, f"/api/?seed=r&results={value}")
    assert body["info"]["results"] == expected == len(body["results"])


def test_results_repeated_is_one(server):
    assert get_json(server, "/api/?seed=r&results=2&results=3")["info"]["results"] == 1
    assert get_json(server, "/api/?seed=r&results[]=3")["info"]["results"] == 3


@pytest.mark.parametrize("value,expected", [
    ("2", 2), ("1.5", 1.5), ("0", 1), ("abc", 1), ("-1", 1), ("10001", 1), ("0x10", 16),
    ("02", 2), ("1e-7", 1e-7),
])
def test_page_fallbacks(server, value, expected):
    body = get_json(server, f"/api/?seed=p&page={value}")
    assert body["info"]["page"] == expected


def test_page_1e_minus_7_prints_like_javascript(server):
    assert b'"page":1e-7' in server.get("/api/?seed=p&page=0.0000001")[2]


def test_gender(server):
    assert {u["gender"] for u in users(server, "gender=female&results=40")} == {"female"}
    assert {u["gender"] for u in users(server, "gender=male&results=40")} == {"male"}
    # Upstream ignores gender whenever a seed is given (issues #143, #188).
    assert users(server, "seed=g&gender=female&results=30") == users(server, "seed=g&results=30")
    assert {u["gender"] for u in users(server, "gender=FEMALE&results=60")} == {"male", "female"}


def test_nat(server):
    assert {u["nat"] for u in users(server, "nat=us,GB&results=60")} == {"US", "GB"}
    assert {u["nat"] for u in users(server, "nationality=fr&results=10")} == {"FR"}
    assert {u["nat"] for u in users(server, "nat=%C4%B1r&results=5")} == {"IR"}  # JS toUpperCase
    for bad in ("us,xx", ",", "lego", "usa"):
        assert len({u["nat"] for u in users(server, f"nat={bad}&results=200")}) > 10, bad


def test_all_nationalities(server):
    seen = {u["nat"] for u in users(server, "seed=all&results=1000")}
    assert len(seen) == 21


def test_inc_exc(server):
    u = users(server, "seed=i&inc=gender,name,nat")[0]
    assert list(u) == ["gender", "name", "nat"]
    u = users(server, "seed=i&exc=login,picture")[0]
    assert list(u) == ["gender", "name", "location", "email", "dob", "registered", "phone",
                       "cell", "id", "nat"]
    assert users(server, "seed=i&inc=foo") == [{}]
    assert users(server, "seed=i&inc=name&exc=name") == [{}]
    assert list(users(server, "seed=i&inc=+NAME%20,Email")[0]) == ["name", "email"]


@pytest.mark.parametrize("query,ctype,start", [
    ("format=csv", "text/csv", b"gender,name.title"),
    ("format=yaml", "text/x-yaml", b"results:\n    -\n"),
    ("format=xml", "text/xml", b'<?xml version="1.0" encoding="UTF-8"?>\n<user>\n\t<results>'),
    ("format=pretty", "application/json", b'{\n  "results": [\n    {'),
    ("format=prettyjson", "application/json", b'{\n  "results": [\n    {'),
    ("fmt=XML", "text/xml", b"<?xml"),
    ("format=xml&fmt=json", "text/xml", b"<?xml"),
    ("format=nope", "application/json", b'{"results":[{'),
])
def test_formats(server, query, ctype, start):
    status, headers, body = server.get("/api/?seed=f&results=2&" + query)
    assert status == 200
    assert headers["content-type"] == ctype + "; charset=utf-8"
    assert body.startswith(start)


def test_every_format_has_the_same_users(server):
    base = users(server, "seed=same&results=3")
    csv_body = server.get("/api/?seed=same&results=3&format=csv")[2].decode()
    xml_body = server.get("/api/?seed=same&results=3&format=xml")[2].decode()
    yaml_body = server.get("/api/?seed=same&results=3&format=yaml")[2].decode()
    for u in base:
        for text in (csv_body, xml_body, yaml_body):
            assert u["login"]["uuid"] in text
            assert u["login"]["sha256"] in text


def test_noinfo_and_its_lego_quirk(server):
    assert "info" not in get_json(server, "/api/?seed=n&noinfo")
    assert "info" not in get_json(server, "/api/?seed=n&noinfo=0")
    assert "info" in get_json(server, "/api/?seed=n&noinfo&lego=false")


def test_callback(server):
    body = server.get("/api/?seed=c&callback=myFn")[2]
    assert body.startswith(b"myFn({") and body.endswith(b"});")
    assert server.get("/api/?seed=c&callback=myFn&format=csv")[2].startswith(b"gender,")
    assert server.get("/api/?seed=c&callback=")[2].startswith(b'({"results"')


def test_download(server):
    status, headers, body = server.get("/api/?seed=d&format=csv&dl")
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == 'attachment; filename="download.csv"'
    assert server.get("/api/?seed=d&download=false")[1]["content-disposition"] == \
        'attachment; filename="download.json"'


@pytest.mark.parametrize("spec,charset,lo,hi", [
    ("upper,lower,number,10-12", r"[A-Za-z0-9]", 10, 12),
    ("number,0", r"[0-9]", 8, 64),
    ("upper,100", r"[A-Z]", 8, 64),
    ("upper,16-4", r"[A-Z]", 4, 16),
    ("special,4", r"[ -/:-@\[-`{-~]", 4, 4),
    ("lower,upper,5", r"[a-zA-Z]", 5, 5),
])
def test_password(server, spec, charset, lo, hi):
    for u in users(server, f"seed=pw&results=30&password={spec}"):
        pw = u["login"]["password"]
        assert lo <= len(pw) <= hi and re.fullmatch(charset + "+", pw), pw


def test_password_hashes(server):
    import hashlib
    for u in users(server, "seed=h&results=20&password=special,upper,20"):
        login = u["login"]
        data = (login["password"] + login["salt"]).encode()
        assert login["md5"] == hashlib.md5(data).hexdigest()
        assert login["sha1"] == hashlib.sha1(data).hexdigest()
        assert login["sha256"] == hashlib.sha256(data).hexdigest()


def test_lego(server):
    body = get_json(server, "/api/?seed=foobar&lego&results=5")
    assert body["info"]["seed"] == "foobar-1"
    for u in body["results"]:
        assert u["nat"] == "LEGO" and "country" not in u["location"]
        assert "/lego/" in u["picture"]["large"] and u["id"]["name"] == "SN"


def test_eighteen_character_seed(server):
    body = get_json(server, "/api/?seed=abcdefabcdefabcd0a&results=10")
    assert body["info"]["seed"] == "abcdefabcdefabcd0a0a"
    assert {u["nat"] for u in body["results"]} == {"IE"}
    status, headers, text = server.get("/api/?seed=abcdefabcdefabcd15")
    assert status == 500 and b"nationality index" in text


def test_ages_follow_the_reference_date(server):
    for u in users(server, "seed=age&results=50"):
        born = u["dob"]["date"]
        y, m, d = int(born[:4]), int(born[5:7]), int(born[8:10])
        assert u["dob"]["age"] == 2026 - y - ((m, d) > (11, 24) or ((m, d) == (11, 24) and born[11:] != "00:00:00.000Z"))


# ---- routes, status codes, headers -------------------------------------------

@pytest.mark.parametrize("path", ["/api", "/api/", "/api/1.4", "/api/1.4/", "/API/1.4/",
                                  "/api/1%2E4/"])
def test_routes(server, path):
    status, headers, body = server.get(path + "?seed=x")
    assert status == 200 and headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path,method", [
    ("/api/2.0/", "GET"), ("/api/1.3/", "GET"), ("/api/foo", "GET"), ("/api/1.4/extra", "GET"),
    ("/", "GET"), ("/api/portraits/men/1.jpg", "GET"), ("/api/", "POST"), ("/api/1.4/", "PUT"),
])
def test_not_found(server, path, method):
    status, headers, body = server.request(path, method=method, body=b"x" if method != "GET" else None)
    assert (status, body) == (404, b"Not Found")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["access-control-allow-origin"] == "*"


def test_options_preflight(server):
    status, headers, body = server.request("/api/", method="OPTIONS",
                                           headers={"Access-Control-Request-Headers": "x-a"})
    assert status == 204 and body == b""
    assert headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert headers["access-control-allow-headers"] == "x-a"


@pytest.mark.parametrize("path,method", [("/health", "GET"), ("/health", "HEAD"),
                                         ("/metrics", "GET"), ("*", "GET"), ("api", "GET")])
def test_no_endpoints_of_its_own(server, path, method):
    # The shared HTTP layer (us_http) has /health and refuses a target without
    # '/'; the source answers everything as upstream does.
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, body = server.raw(request.encode())
    assert (status, body) == (404, b"" if method == "HEAD" else b"Not Found")


def test_only_upstream_headers(server):
    status, headers, _ = server.get("/api/?seed=hd")
    assert status == 200 and headers["cache-control"] == "no-cache"
    for browser_only in ("x-frame-options", "content-security-policy", "x-content-type-options",
                         "referrer-policy"):
        assert browser_only not in headers
    status, headers, _ = server.request("*", method="OPTIONS")
    assert status == 204 and headers["access-control-allow-origin"] == "*"


def test_large_request_body_is_read_and_dropped(server):
    status, headers, body = server.request("/api/?seed=b", method="POST", body=b"x" * 200_000)
    assert (status, body) == (404, b"Not Found")
    assert server.get("/api/?seed=alive")[0] == 200


def test_head(server):
    status, headers, body = server.request("/api/?seed=h", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000


# ---- bad requests never crash it -----------------------------------------------

@pytest.mark.parametrize("query", [
    "%", "%zz", "%E0%A4%A", "%C0%AF", "%ED%A0%80", "seed=%00%01", "a=b=c&&&=&==",
    "inc[a]=x", "nat[x][y]=us", "seed[]=a&seed[]=b", "[seed]=x", "results=" + "9" * 400,
    "page=" + "1" * 400, "seed=" + "\u00e9".encode().hex(), "password=,,,", "password=upper,-",
    "password=upper,5-", "nat=" + ",".join(["us"] * 3000), "&".join(f"k{i}=v" for i in range(3000)),
    "seed=%F0%9F%98%80%F0%9F%98%80" + "a" * 14, "seed=aaaaaaaaaaaaaaaa%F0%9F%98%80",
    "seed=aaaaaaaaaaaaaaaa-1", "seed=aaaaaaaaaaaaaaaa0x",
])
def test_odd_queries_get_an_answer(server, query):
    status, headers, body = server.get("/api/?" + query)
    assert status in (200, 500)
    if status == 200:
        json.loads(body)
    assert server.get("/api/?seed=alive")[0] == 200


def test_seed_with_control_characters_in_every_format(server):
    for fmt in ("json", "pretty", "csv", "yaml", "xml"):
        status, _, body = server.get(f"/api/?seed=a%22b%5C%0A%01%27%3C&format={fmt}")
        assert status == 200
        body.decode("utf-8")
    assert get_json(server, "/api/?seed=a%22b%5C%0A%01")["info"]["seed"] == 'a"b\\\n\x01'


def test_raw_non_ascii_bytes_are_latin1(server):
    # Node reads raw URL bytes as Latin-1; the answer stays valid UTF-8.
    status, body = server.raw(b"GET /api/?seed=\xe9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["info"]["seed"] == "\u00e9"


def test_huge_query_is_refused_cleanly(server):
    status, _, _ = server.get("/api/?seed=" + "a" * 100_000)
    assert status in (413, 414, 431)
    assert server.get("/api/?seed=alive")[0] == 200


# ---- program behaviour -------------------------------------------------------

def run(*args, **kw):
    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=30, **kw)


def test_help_version_print_config():
    assert run("--help").returncode == 0
    v = run("--version")
    assert v.returncode == 0 and v.stdout.startswith("userstream-source ")
    pc = run("--print-config", "--port", "18123", env={"US_SOURCE_THREADS": "3"})
    assert pc.returncode == 0
    assert "US_SOURCE_PORT=18123  # flag" in pc.stdout and "US_SOURCE_THREADS=3  # env" in pc.stdout


@pytest.mark.parametrize("args", [["--nope"], ["--port", "x"], ["--quirks", "some"],
                                  ["--fault-500", "0.8", "--fault-429", "0.8"], ["extra"],
                                  ["--now", "yesterday"], ["--bind", "localhost"]])
def test_usage_errors_exit_2(args):
    r = run("--port", "0", *args)
    assert r.returncode == 2, r.stderr


def test_port_in_use_exits_1(server):
    assert run("--port", str(server.port)).returncode == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly(sig):
    s = Server()
    assert s.get("/api/?results=10")[0] == 200
    assert s.stop(sig) == 0


def test_max_requests():
    s = Server("--max-requests", "3")
    for _ in range(3):
        assert s.get("/api/")[0] == 200
    assert s.proc.wait(timeout=20) == 0
    s.stop()


def test_ipv6_bind():
    p = subprocess.Popen([binary(), "--bind", "::1", "--port", "0"], stderr=subprocess.PIPE,
                         text=True)
    try:
        line = p.stderr.readline()
        assert "listening on http://[::1]:" in line, line
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 0
        p.stderr.close()


def test_many_headers_get_an_answer(server):
    head = "".join(f"X-H{i}: v\r\n" for i in range(4000))
    status, _ = server.raw(f"GET /api/ HTTP/1.1\r\nHost: x\r\n{head}Connection: close\r\n\r\n".encode())
    assert status in (200, 413, 431)
    assert server.get("/api/?seed=alive")[0] == 200
