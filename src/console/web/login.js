// The login form: POST /login (form-encoded); the session cookie is HttpOnly,
// so this script never sees it.
"use strict";
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = document.getElementById("login-error");
  out.textContent = "";
  const body = new URLSearchParams({ password: document.getElementById("password").value });
  try {
    const r = await fetch("/login", { method: "POST", body, credentials: "same-origin" });
    if (r.ok) {
      window.location.assign("/");
      return;
    }
    out.textContent = r.status === 401 ? "Wrong password." : "Login failed (HTTP " + r.status + ").";
  } catch (e) {
    out.textContent = "The console does not answer.";
  }
  document.getElementById("password").select();
});
