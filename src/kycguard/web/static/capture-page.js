// The hosted capture page: /capture/{session_token}[?lang=de]. The token comes from the page's own
// address and is sent only in the X-Session-Token header.
import { KycCapture } from "./kycguard-capture.js";

const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const language = new URLSearchParams(location.search).get("lang") || undefined;
const root = document.getElementById("kyc-root");
const capture = new KycCapture(root, { sessionToken: token, apiBase: location.origin, language });
document.documentElement.lang = capture.language;
document.title = capture.t("title");
capture.start();
