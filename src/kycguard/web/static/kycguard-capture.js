// kycguard capture flow: ID document, selfie, then the server's liveness challenges, in any page.
//
//   import { KycCapture } from "https://kyc.example.com/static/kycguard-capture.js";
//   new KycCapture(document.querySelector("#kyc"), {
//     sessionToken,                  // from POST /api/v1/sessions (your backend), never an API key
//     language: "de",                // optional; default: the browser's language
//     displayText: { "result.approved.title": "Welcome aboard" },  // optional overrides
//     onComplete: (result) => {},    // optional: {status, session_id}
//   }).start();
//
// The browser only sends pictures; every check (face, challenges, liveness, match) runs on the server.
// Frames go one at a time (the next leaves when the answer to the last is in), at most `fps` per second.
import { pickLanguage, translator } from "./i18n.js";

const MIN_WIDTH = 320;
const MIN_HEIGHT = 240;
const MIN_FPS = 10;
const FRAME_SIDE = 640;
const REQUEST_TIMEOUT_MS = 10000;
const COMPLETE_TIMEOUT_MS = 120000;
const DOCUMENT_TIMEOUT_MS = 60000;
const SLOW_MS = 2500;
const MAX_NETWORK_FAILURES = 3; // transient failures in a row (network, 5xx, 429) before the retry button
const BACKOFF_MS = 500; // then 1 s: the wait before the 2nd and 3rd attempt
const MAX_DUPLICATES = 15; // identical frames in a row: the picture is frozen
const FROZEN_MS = 4000; // no new camera frame for this long: the picture is frozen
const BARCODE_TYPES = new Set(["id_card", "licence"]);

/** A DOM element: h("button", {class: "x", onclick}, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export class KycCapture {
  constructor(root, options) {
    if (!options || !options.sessionToken) throw new Error("KycCapture needs options.sessionToken");
    this.root = root;
    this.token = options.sessionToken;
    this.apiBase = options.apiBase ?? new URL(import.meta.url).origin;
    this.fps = Math.min(Math.max(options.fps ?? 8, 2), 15);
    this.onComplete = options.onComplete;
    this.explicitLanguage = Boolean(options.language);
    this.language = pickLanguage(options.language);
    this.overrides = options.displayText || {};
    this.t = translator(this.language, this.overrides);
    this.stream = null;
    this.deviceId = null;
    this.sequence = 0;
    this.streaming = false;
    this.lastAnnounced = "";
    this.root.classList.add("kyc");
    this.root.setAttribute("lang", this.language);
    this._onOrientation = () => this._checkOrientation();
  }

  // -- the flow ------------------------------------------------------------------------------------

  /** `resume`: back after a lost connection or a server error: straight to the camera (its
   * permission is granted), not its introduction. */
  async start({ resume = false } = {}) {
    this._screen("loading", h("p", { class: "kyc-muted" }, this.t("loading")));
    let session;
    try {
      session = await this._apiRetrying("GET", "/api/v1/capture/session", undefined, REQUEST_TIMEOUT_MS, () => {
        const loading = this.root.querySelector(".kyc-muted");
        if (loading) loading.textContent = this.t("network_slow");
      });
    } catch (err) {
      return this._fail(err, () => this.start({ resume }));
    }
    if (!this.explicitLanguage && session.default_language) {
      this.language = pickLanguage(undefined, session.default_language);
      this.t = translator(this.language, this.overrides);
      this.root.setAttribute("lang", this.language);
    }
    this.session = session;
    this.sequence = session.last_sequence + 1;
    if (session.status === "completed" && session.result) return this._result(session.result);
    if (session.status === "expired") return this._error("expired");
    if (session.status !== "active") return this._error("completed");
    if (session.phase === "passed" || session.phase === "failed") return this._complete();
    if (!session.document_portrait && session.frames_received === 0) return this._documentStep();
    return resume ? this._liveStep() : this._cameraIntro();
  }

  _steps() {
    const steps = ["step_document", "step_selfie", "step_actions", "step_result"];
    return steps;
  }

  _progress(current) {
    const steps = this._steps();
    const index = steps.indexOf(current);
    return h(
      "nav",
      { class: "kyc-steps", "aria-label": this.t("steps_label") },
      h("p", { class: "kyc-visually-hidden" }, this.t("step_of", { n: index + 1, total: steps.length })),
      h(
        "ol",
        {},
        steps.map((key, i) =>
          h(
            "li",
            {
              class: i < index ? "done" : i === index ? "current" : "",
              "aria-current": i === index ? "step" : null,
            },
            this.t(key),
          ),
        ),
      ),
    );
  }

  _screen(step, ...content) {
    this._stopLoop();
    delete this.root.dataset.error;
    this.root.replaceChildren(
      h("h1", { class: "kyc-title" }, this.t("title")),
      step === "loading" ? null : this._progress(step),
      h("section", { class: "kyc-card", "data-step": step }, ...content),
    );
    const heading = this.root.querySelector("section h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  // -- step 1: the ID document -------------------------------------------------------------------

  _documentStep() {
    const choice = h("fieldset", { class: "kyc-choice" }, h("legend", {}, this.t("doc_type_label")));
    for (const [value, key] of [
      ["passport", "doc_passport"],
      ["id_card", "doc_id_card"],
      ["licence", "doc_licence"],
    ]) {
      choice.append(
        h(
          "label",
          {},
          h("input", { type: "radio", name: "kyc-doc-type", value, checked: value === "passport" }),
          " ",
          this.t(key),
        ),
      );
    }
    const next = h("button", { class: "kyc-primary", type: "button" }, this.t("start"));
    next.addEventListener("click", () => {
      const type = choice.querySelector("input:checked").value;
      this.documentType = type;
      this.pictures = {};
      this._documentSide("front");
    });
    this._screen("step_document", h("h2", {}, this.t("step_document")), h("p", {}, this.t("doc_intro")), choice, next);
  }

  _documentSide(side) {
    const status = h("p", { class: "kyc-status", role: "status", "aria-live": "polite" });
    const file = h("input", {
      type: "file",
      accept: "image/jpeg,image/png,image/webp",
      capture: "environment",
      class: "kyc-visually-hidden",
      id: `kyc-file-${side}`,
      "aria-label": this.t("doc_upload"),
    });
    file.addEventListener("change", () => {
      if (file.files && file.files[0]) this._documentPreview(side, file.files[0]);
    });
    const camera = h("button", { type: "button", class: "kyc-primary" }, this.t("doc_take_photo"));
    camera.addEventListener("click", () => this._documentCamera(side));
    const upload = h("button", { type: "button", class: "kyc-secondary" }, this.t("doc_upload"));
    upload.addEventListener("click", () => file.click());
    this._screen(
      "step_document",
      h("h2", {}, this.t(side === "front" ? "doc_front" : "doc_back")),
      h("p", {}, this.t("doc_hint")),
      h("div", { class: "kyc-actions" }, camera, upload),
      file,
      status,
    );
  }

  async _documentCamera(side) {
    let stream;
    try {
      stream = await this._openCamera({ facingMode: "environment" });
    } catch (err) {
      return this._cameraFailure(err, () => this._documentSide(side));
    }
    const video = h("video", { autoplay: true, playsinline: true, muted: true, class: "kyc-doc-video" });
    video.srcObject = stream;
    const shoot = h("button", { type: "button", class: "kyc-primary" }, this.t("doc_capture"));
    shoot.addEventListener("click", async () => {
      const blob = await this._grab(video, 1600, 0.92);
      this._closeCamera();
      this._documentPreview(side, blob);
    });
    this._screen(
      "step_document",
      h("h2", {}, this.t(side === "front" ? "doc_front" : "doc_back")),
      h("div", { class: "kyc-stage kyc-doc-stage" }, video, h("div", { class: "kyc-doc-frame", "aria-hidden": "true" })),
      h("p", {}, this.t("doc_hint")),
      h("div", { class: "kyc-actions" }, shoot),
    );
    shoot.focus();
  }

  _documentPreview(side, blob) {
    const url = URL.createObjectURL(blob);
    const status = h("p", { class: "kyc-status", role: "status", "aria-live": "polite" });
    const use = h("button", { type: "button", class: "kyc-primary" }, this.t("doc_use"));
    const retake = h("button", { type: "button", class: "kyc-secondary" }, this.t("doc_retake"));
    retake.addEventListener("click", () => this._documentSide(side));
    use.addEventListener("click", async () => {
      this.pictures[side] = blob;
      if (side === "front" && BARCODE_TYPES.has(this.documentType)) return this._documentSide("back");
      use.disabled = true;
      retake.disabled = true;
      status.textContent = this.t("doc_sending");
      try {
        const form = new FormData();
        form.append("id_document", this.pictures.front, "front.jpg");
        if (this.pictures.back) form.append("id_document_back", this.pictures.back, "back.jpg");
        // sent again, the same pictures replace the same ones: transient failures are retried
        await this._apiRetrying("POST", `/api/v1/sessions/${this.session.session_id}/document`, form, DOCUMENT_TIMEOUT_MS, () => {
          status.textContent = this.t("network_slow");
        });
      } catch (err) {
        if (!transient(err) && err.status >= 400 && err.status < 500 && err.status !== 410) {
          const reason = err.code === "NO_FACE_IN_DOCUMENT" || err.code === "FACE_TOO_SMALL"
            ? this.t("doc_no_face")
            : this.t("doc_bad_image");
          status.textContent = this.t("doc_rejected", { reason });
          status.classList.add("kyc-bad");
          retake.disabled = false;
          retake.textContent = this.t("retry");
          retake.onclick = null;
          retake.addEventListener("click", () => this._documentSide("front"));
          retake.focus();
          return;
        }
        // the pictures are kept: the retry sends the same ones again
        return this._fail(err, () => this._documentPreview(side, blob));
      }
      this._cameraIntro();
    });
    this._screen(
      "step_document",
      h("h2", {}, this.t(side === "front" ? "doc_front" : "doc_back")),
      h("img", { src: url, alt: this.t(side === "front" ? "doc_front" : "doc_back"), class: "kyc-doc-preview" }),
      h("div", { class: "kyc-actions" }, use, retake),
      status,
    );
  }

  // -- step 2 and 3: selfie (the neutral frames) and the challenges --------------------------------

  _cameraIntro() {
    const go = h("button", { type: "button", class: "kyc-primary" }, this.t("start_camera"));
    go.addEventListener("click", () => this._liveStep());
    this._screen(
      "step_selfie",
      h("h2", {}, this.t("step_selfie")),
      h("p", {}, this.t("selfie_intro")),
      h("h3", {}, this.t("tips_title")),
      h("ul", { class: "kyc-tips" }, h("li", {}, this.t("tip_light")), h("li", {}, this.t("tip_alone")), h("li", {}, this.t("tip_hold"))),
      h("div", { class: "kyc-actions" }, go),
    );
  }

  async _liveStep() {
    if (this._rotated()) return this._error("rotated", () => this._liveStep());
    try {
      this.stream = await this._openCamera({ facingMode: "user", deviceId: this.deviceId });
    } catch (err) {
      return this._cameraFailure(err, () => this._liveStep());
    }
    const video = h("video", {
      autoplay: true,
      playsinline: true,
      muted: true,
      class: "kyc-video",
      "aria-label": this.t("preview_label"),
    });
    video.srcObject = this.stream;
    await video.play().catch(() => undefined);
    await waitFor(() => video.videoWidth > 0, 4000);
    const slow = await this._tooSlow(video);
    if (slow) {
      this._closeCamera();
      return this._error("camera_too_slow", () => this._liveStep(), { detail: slow });
    }
    this.video = video;
    this.oval = svgOval();
    this.instruction = h("p", { class: "kyc-instruction", id: "kyc-instruction", "aria-live": "assertive", "aria-atomic": "true" });
    this.guidance = h("p", { class: "kyc-guidance", id: "kyc-guidance", role: "status", "aria-live": "polite", "aria-atomic": "true" });
    this.counter = h("p", { class: "kyc-counter" });
    this.bar = h("progress", { max: "100", value: "0", "aria-labelledby": "kyc-instruction" });
    this.notice = h("p", { class: "kyc-notice", role: "status", "aria-live": "polite" });
    const picker = await this._picker();
    this._screen(
      this.session.phase === "challenges" ? "step_actions" : "step_selfie",
      h("h2", { class: "kyc-visually-hidden" }, this.t("step_selfie")),
      h("div", { class: "kyc-stage" }, video, this.oval),
      this.instruction,
      this.counter,
      this.bar,
      this.guidance,
      this.notice,
      picker,
    );
    this._say(this.t("look_straight"));
    window.addEventListener("orientationchange", this._onOrientation);
    window.addEventListener("resize", this._onOrientation);
    this._loop();
  }

  async _picker() {
    let cameras = [];
    try {
      cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    } catch {
      return null;
    }
    if (cameras.length < 2) return null;
    const current = this.stream.getVideoTracks()[0]?.getSettings().deviceId;
    const select = h(
      "select",
      { id: "kyc-camera" },
      cameras.map((cam, i) =>
        h("option", { value: cam.deviceId, selected: cam.deviceId === current }, cam.label || `${this.t("camera_label")} ${i + 1}`),
      ),
    );
    select.addEventListener("change", () => {
      this.deviceId = select.value;
      this._closeCamera();
      this._liveStep();
    });
    return h("p", { class: "kyc-picker" }, h("label", { for: "kyc-camera" }, this.t("camera_label")), " ", select);
  }

  async _loop() {
    this.streaming = true;
    this.failures = 0;
    this.duplicates = 0;
    const interval = 1000 / this.fps;
    while (this.streaming) {
      const started = performance.now();
      let answer;
      try {
        // never send the same picture twice: wait for the camera's next frame (a busy device can
        // stall the preview); none for a while means the picture is frozen
        if (!(await nextFrame(this.video, FROZEN_MS))) {
          if (!this.streaming) break;
          return this._error("camera_too_slow", () => this._liveStep(), { detail: this.t("frozen") });
        }
        const frame = await this._grab(this.video, FRAME_SIDE, 0.85);
        if (!this.streaming) break;
        answer = await this._sendFrame(frame, started);
        this.failures = 0;
        this.duplicates = 0;
        this.notice.textContent = performance.now() - started > SLOW_MS ? this.t("network_slow") : "";
      } catch (err) {
        if (!this.streaming) break;
        if (err instanceof ApiError && err.code === "CHALLENGES_FINISHED") return this._complete();
        if (err instanceof ApiError && err.code === "DUPLICATE_FRAME" && ++this.duplicates > MAX_DUPLICATES) {
          return this._error("camera_too_slow", () => this._liveStep(), { detail: this.t("frozen") });
        }
        if (err instanceof ApiError && (err.code === "FRAME_TIMESTAMP_IMPLAUSIBLE" || err.code === "FRAME_OUT_OF_ORDER" || err.code === "DUPLICATE_FRAME")) {
          continue; // this one frame is refused; the next one is fresh
        }
        if (!transient(err)) return this._fail(err, () => this.start());
        this.failures += 1;
        this.notice.textContent = this.t("network_slow");
        if (this.failures >= MAX_NETWORK_FAILURES) return this._fail(err, () => this._resume());
        await sleep(BACKOFF_MS * 2 ** (this.failures - 1));
        continue;
      }
      this._show(answer);
      if (answer.phase === "passed" || answer.phase === "failed") return this._complete();
      await sleep(Math.max(0, interval - (performance.now() - started)));
    }
  }

  _resume() {
    this.start({ resume: true });
  }

  _sendFrame(blob, capturedAt) {
    const form = new FormData();
    form.append("frame", blob, "frame.jpg");
    form.append("sequence", String(this.sequence++));
    form.append("timestamp", String(Math.round(performance.timeOrigin + capturedAt)));
    return this._api("POST", `/api/v1/sessions/${this.session.session_id}/frames`, form);
  }

  _show(answer) {
    const current = answer.current_challenge;
    let text;
    if (answer.phase === "baseline") {
      text = this.t("look_straight");
      this.counter.textContent = "";
      this.bar.value = 0;
      this._markStep("step_selfie");
    } else if (current) {
      text = this.t(`challenge.${current.challenge}`);
      this.counter.textContent = [
        this.t("challenge_of", { n: current.index + 1, total: answer.challenges_total }),
        current.seconds_left !== null ? this.t("seconds_left", { s: Math.ceil(current.seconds_left) }) : "",
      ].filter(Boolean).join(" · ");
      this.bar.value = Math.round(100 * ((answer.challenges_completed + current.progress) / answer.challenges_total));
      this._markStep("step_actions");
    } else {
      text = this.t("analysing");
    }
    this._say(text);
    const first = (answer.guidance || []).find((g) => `guidance.${g.code}` !== `guidance.${current?.challenge}`);
    const tip = answer.face_count > 1 ? this.t("guidance.one_person") : first ? this.t(`guidance.${first.code}`) : "";
    if (this.guidance.textContent !== tip) this.guidance.textContent = tip;
    const good = answer.face_count === 1 && !(answer.guidance || []).some((g) => IMAGE_PROBLEMS.has(g.code));
    this.oval.classList.toggle("kyc-oval-good", good);
    this.oval.classList.toggle("kyc-oval-bad", !good);
    this.root.dataset.phase = answer.phase;
  }

  _markStep(step) {
    const nav = this.root.querySelector(".kyc-steps");
    if (!nav || nav.dataset.step === step) return;
    nav.dataset.step = step;
    nav.replaceWith(this._progress(step));
    this.root.querySelector(".kyc-steps").dataset.step = step;
  }

  _say(text) {
    if (text !== this.lastAnnounced) {
      this.instruction.textContent = text;
      this.lastAnnounced = text;
    }
  }

  async _complete() {
    this._closeCamera();
    const status = h("p", { role: "status", "aria-live": "polite" }, this.t("analysing"));
    this._screen("step_result", h("h2", {}, this.t("step_result")), status);
    let result;
    try {
      // the decision analyses every kept frame: allow it time on a busy server. Asked again, the
      // server answers the same decision, so a transient failure is retried.
      result = await this._apiRetrying("POST", `/api/v1/sessions/${this.session.session_id}/complete`, undefined, COMPLETE_TIMEOUT_MS, () => {
        status.textContent = this.t("network_slow");
      });
    } catch (err) {
      // decided meanwhile (an answer lost on the way): the session holds the result
      if (err instanceof ApiError && err.code === "SESSION_COMPLETED") return this.start();
      return this._fail(err, () => this._complete());
    }
    this._result(result);
  }

  _result(result) {
    this._closeCamera();
    const status = ["approved", "manual_review", "rejected"].includes(result.status) ? result.status : "manual_review";
    const why = [];
    if (status === "rejected") {
      const reasons = new Set(result.reasons || []);
      if ([...reasons].some((r) => r.startsWith("CHALLENGE"))) why.push(this.t("result.failed_actions"));
      if (reasons.has("FACE_MISMATCH")) why.push(this.t("result.no_match"));
    }
    const actions = h("div", { class: "kyc-actions" });
    const target = this.session?.return_url;
    if (target) {
      const href = target.replaceAll("{session_id}", encodeURIComponent(result.session_id)).replaceAll("{status}", encodeURIComponent(status));
      actions.append(h("a", { class: "kyc-primary kyc-button", href }, this.t("continue")));
    }
    this._screen(
      "step_result",
      h("div", { class: `kyc-result kyc-result-${status}`, role: "status", "data-status": status },
        h("span", { class: "kyc-result-icon", "aria-hidden": "true" }, status === "approved" ? "✓" : status === "rejected" ? "✕" : "…"),
        h("h2", {}, this.t(`result.${status}.title`)),
        h("p", {}, this.t(`result.${status}.text`)),
        why.map((w) => h("p", {}, w)),
      ),
      actions,
    );
    this.root.dataset.result = status;
    if (this.onComplete) this.onComplete({ status, session_id: result.session_id });
  }

  // -- errors ---------------------------------------------------------------------------------------

  _fail(err, retry) {
    if (err instanceof ApiError) {
      if (err.code === "SESSION_EXPIRED") return this._error("expired");
      if (err.code === "SESSION_COMPLETED" || err.code === "SESSION_DELETED") return this._error("completed");
      if (err.status === 401 || err.status === 403) return this._error("invalid_link");
      if (err.status === 0) return this._error("network", retry);
    }
    return this._error("server", retry);
  }

  _cameraFailure(err, retry) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") return this._error("permission_denied", retry);
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return this._error("no_camera", retry);
    if (name === "NotReadableError" || name === "AbortError") return this._error("camera_in_use", retry);
    if (name === "InsecureContext") return this._error("insecure", retry);
    return this._error("no_camera", retry);
  }

  _error(kind, retry, vars = {}) {
    this._closeCamera();
    const body = [
      h("div", { class: "kyc-error", role: "alert", "data-error": kind },
        h("h2", {}, this._title(kind)),
        h("p", {}, this.t(`error.${kind}`, vars)),
      ),
    ];
    if (retry) {
      const again = h("button", { type: "button", class: "kyc-primary" }, this.t("retry"));
      again.addEventListener("click", () => retry());
      body.push(h("div", { class: "kyc-actions" }, again));
    }
    this._screen(kind === "expired" || kind === "invalid_link" ? "step_result" : "step_selfie", ...body);
    this.root.dataset.error = kind;
    const button = this.root.querySelector(".kyc-error ~ .kyc-actions button");
    if (button) button.focus();
  }

  _title(kind) {
    const key = `error.title.${kind}`;
    const specific = this.t(key);
    return specific === key ? this.t("error.title") : specific;
  }

  _rotated() {
    const coarse = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    return Boolean(coarse && window.innerWidth > window.innerHeight);
  }

  _checkOrientation() {
    if (this.streaming && this._rotated()) {
      this._error("rotated", () => this._liveStep());
    }
  }

  // -- camera and network ---------------------------------------------------------------------------

  async _openCamera({ facingMode, deviceId }) {
    if (!window.isSecureContext) throw Object.assign(new Error("insecure"), { name: "InsecureContext" });
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw Object.assign(new Error("no camera"), { name: "NotFoundError" });
    this._closeCamera();
    const video = deviceId
      ? { deviceId: { exact: deviceId }, width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } }
      : { facingMode, width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
    this.stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    return this.stream;
  }

  async _tooSlow(video) {
    const track = this.stream.getVideoTracks()[0];
    const settings = track ? track.getSettings() : {};
    const width = video.videoWidth || settings.width || 0;
    const height = video.videoHeight || settings.height || 0;
    if (Math.max(width, height) < MIN_WIDTH || Math.min(width, height) < MIN_HEIGHT) return `${width}×${height}`;
    const fps = await measureFps(video);
    if (fps !== null && fps < MIN_FPS) return `${fps.toFixed(0)} fps`;
    return null;
  }

  _closeCamera() {
    this._stopLoop();
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    window.removeEventListener("orientationchange", this._onOrientation);
    window.removeEventListener("resize", this._onOrientation);
  }

  _stopLoop() {
    this.streaming = false;
  }

  _grab(video, side, quality) {
    const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no frame"))), "image/jpeg", quality),
    );
  }

  /** `_api` with a bounded retry of transient failures, waiting longer before each attempt
   * (`onWait` is told first); then the last error. Only for requests the server answers the same
   * when asked again. */
  async _apiRetrying(method, path, body, timeoutMs, onWait) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this._api(method, path, body, timeoutMs);
      } catch (err) {
        if (!transient(err) || attempt >= MAX_NETWORK_FAILURES) throw err;
        onWait();
        await sleep(BACKOFF_MS * 2 ** (attempt - 1));
      }
    }
  }

  async _api(method, path, body, timeoutMs = REQUEST_TIMEOUT_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let response;
    try {
      response = await fetch(this.apiBase + path, {
        method,
        body,
        headers: { "X-Session-Token": this.token, Accept: "application/json" },
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, "NETWORK", String(err));
    } finally {
      clearTimeout(timer);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = data.error || {};
      console.warn(`kycguard: ${method} ${path.split("/").pop()} -> ${response.status} ${error.code}: ${error.message}`);
      throw new ApiError(response.status, error.code || `HTTP_${response.status}`, error.message);
    }
    return data;
  }
}

const IMAGE_PROBLEMS = new Set(["no_face", "one_person", "move_closer", "move_back", "centre_face", "more_light", "less_light", "hold_still", "face_lost"]);

function svgOval() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "kyc-oval");
  const mask = document.createElementNS(ns, "path");
  mask.setAttribute("d", "M0 0H100V100H0Z M50 12 A27 38 0 1 0 50.01 12Z");
  mask.setAttribute("fill-rule", "evenodd");
  mask.setAttribute("class", "kyc-oval-shade");
  const ring = document.createElementNS(ns, "ellipse");
  for (const [k, v] of Object.entries({ cx: 50, cy: 50, rx: 27, ry: 38, class: "kyc-oval-ring" })) ring.setAttribute(k, String(v));
  svg.append(mask, ring);
  return svg;
}

/** Resolves true once the video shows a frame newer than the last one grabbed, false after
 * `timeoutMs` without one. */
function nextFrame(video, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    if (video.requestVideoFrameCallback) {
      const last = video._kycLastFrame ?? -1;
      const check = (_now, meta) => {
        if (meta.presentedFrames !== last) {
          video._kycLastFrame = meta.presentedFrames;
          done();
        } else video.requestVideoFrameCallback(check);
      };
      video.requestVideoFrameCallback(check);
    } else {
      const last = video.currentTime;
      const poll = () => (video.currentTime !== last ? done() : setTimeout(poll, 30));
      poll();
    }
  });
}

/** A failure worth another attempt: no answer (offline, timed out), a server error, too many
 * requests, or a local hiccup (a frame the canvas could not encode). Any other 4xx is final. */
function transient(err) {
  return !(err instanceof ApiError) || err.status === 0 || err.status >= 500 || err.status === 429;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(test, timeoutMs) {
  const end = performance.now() + timeoutMs;
  while (!test() && performance.now() < end) await sleep(50);
}

/** Frames per second the preview really shows, measured over ~1 s (null where not measurable). */
function measureFps(video) {
  if (!video.requestVideoFrameCallback) return Promise.resolve(null);
  return new Promise((resolve) => {
    let frames = 0;
    let first = null;
    const tick = (now) => {
      if (first === null) first = now;
      frames += 1;
      if (now - first >= 1000) return resolve((1000 * (frames - 1)) / (now - first));
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
    setTimeout(() => resolve(frames > 1 && first !== null ? (1000 * (frames - 1)) / (performance.now() - first) : null), 2500);
  });
}
