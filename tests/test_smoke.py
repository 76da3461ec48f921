from tests.conftest import page_text


def test_full_journey(auth, client, fake):
    r = auth.register()
    assert r.status_code == 302
    r = auth.start_enrolment()
    assert r.status_code == 302, page_text(r)
    assert r.headers["Location"] == "/profile/2fa/confirm"
    r = auth.confirm()
    assert r.status_code == 302, page_text(r)
    r = client.get("/profile")
    assert "+44 ••• ••• •456" in page_text(r)
    auth.logout()
    r = auth.login()
    assert r.headers["Location"] == "/auth/verify"
    r = auth.verify()
    assert r.status_code == 302, page_text(r)
    r = client.get("/profile")
    assert r.status_code == 200
