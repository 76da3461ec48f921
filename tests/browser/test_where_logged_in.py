"""Where you're logged in, in a real browser: one account in two browser contexts (a laptop and a
phone), the laptop logs the phone out."""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.live]

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")


def test_one_browser_logs_out_another(page, new_context, person_factory):
    laptop = person_factory(page, subfolder="laptop")
    laptop.sign_up()
    phone = person_factory(new_context(user_agent=ANDROID).new_page(), subfolder="phone")
    phone.log_in(expect_code=False)
    laptop.see_where_logged_in(["Chrome on Linux", "Chrome on Android"])
    laptop.log_out_browser("Chrome on Android")
    phone.finds_itself_logged_out()
    laptop.open("/profile")
    laptop.at_profile()
