/*
 * The candidate's join page: consent first, then a microphone check, then Start, then the interview.
 *
 * No interviewer waits before Start: pressing it sends one (POST startUrl), and the page connects at
 * once. Local rooms: the microphone and the RTCPeerConnection (its offer and ICE gathering) are made
 * ready during the microphone check, so after Start only the offer's trip remains: it is POSTed to the
 * gateway with the join token, which holds it until the interviewer taking the session answers. While
 * every interviewer is busy, the page shows the candidate's place in line. Daily rooms: Daily's prebuilt
 * room in a frame, opened with the candidate's meeting token.
 *
 * Live captions: every caption source calls window.voiceJoin.addCaption({speaker, text, final}).
 * Today that is the bot's data channel (handleDataMessage); the live transcript WebSocket can
 * call the same hook.
 */
"use strict";

(function () {
  const settings = JSON.parse(document.getElementById("join-settings").textContent);
  const el = (id) => document.getElementById(id);

  // Answers that mean "not yet" (the interviewer is on its way, or a service is busy).
  const RETRYABLE_STATUS = new Set([502, 503, 504]);
  const OFFER_RETRY_MS = 500; // the gateway itself waits several seconds for the interviewer per attempt
  const OFFER_ATTEMPTS = 20; // beyond these, only while the candidate is in the queue
  const ICE_GATHERING_TIMEOUT_MS = 3000;
  const PING_MS = 1000; // the bot's transport counts the candidate as gone after 3 s without one

  const state = {
    pc: null, mic: null, channel: null, pingTimer: null, pcId: null, left: false,
    prepared: null, meter: null,
  };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setPhase(phase) {
    el("call").dataset.phase = phase;
  }

  function setStatus(text, isError) {
    const status = el("status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) {
      // not JSON: fall through to the generic message
    }
    return { code: "http_" + response.status, message: "Something went wrong (" + response.status + ")." };
  }

  async function problem(response) {
    return (await errorOf(response)).message + " Please reload this page.";
  }

  function worthRetrying(status, error) {
    if (RETRYABLE_STATUS.has(status)) return true;
    return (error.details || {}).retryable === true;
  }

  function minutes(seconds) {
    if (seconds < 45) return "less than a minute";
    const m = Math.max(1, Math.round(seconds / 60));
    return m === 1 ? "about a minute" : "about " + m + " minutes";
  }

  function queueText(queue) {
    if (!queue) return "Waiting for " + settings.interviewerName + " to be ready…";
    const place = queue.position === 1 ? "You are next in line" : "You are number " + queue.position + " in line";
    return "Every interviewer is busy right now. " + place + " (" + minutes(queue.estimatedWaitSeconds) +
      "). Keep this page open: " + settings.interviewerName + " will greet you as soon as one is free.";
  }

  async function pageState() {
    try {
      const response = await fetch(settings.stateUrl, { headers: { Accept: "application/json" } });
      return response.ok ? response.json() : null;
    } catch (e) {
      return null;
    }
  }

  // --- captions ------------------------------------------------------------------------------

  function addCaption(caption) {
    const text = caption && typeof caption.text === "string" ? caption.text.trim() : "";
    if (!text) return;
    const speaker = caption.speaker || settings.interviewerName;
    const final = caption.final !== false;
    const list = el("captions");
    let item = list.lastElementChild;
    if (!(item && item.dataset.speaker === speaker && item.dataset.final === "false")) {
      item = document.createElement("li");
      item.dataset.speaker = speaker;
      const who = document.createElement("span");
      who.className = "speaker";
      who.textContent = speaker + ":";
      const words = document.createElement("span");
      words.className = "words";
      item.append(who, words);
      list.appendChild(item);
    }
    item.dataset.final = String(final);
    item.classList.toggle("interim", !final);
    item.querySelector(".words").textContent = text;
    list.scrollTop = list.scrollHeight;
  }

  function captionFrom(message) {
    // The platform's own shape.
    if (message.type === "caption") {
      const speaker = message.speaker === "candidate" ? "You" : settings.interviewerName;
      return { speaker: speaker, text: message.text, final: message.final !== false };
    }
    // Pipecat's RTVI messages.
    if (message.label === "rtvi-ai" && message.data) {
      if (message.type === "user-transcription") {
        return { speaker: "You", text: message.data.text, final: message.data.final !== false };
      }
      if (message.type === "bot-transcription") {
        return { speaker: settings.interviewerName, text: message.data.text, final: true };
      }
    }
    return null;
  }

  function handleDataMessage(raw) {
    if (typeof raw !== "string" || raw.startsWith("ping") || raw.startsWith("pong")) return;
    let message;
    try {
      message = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (message.type === "signalling" && message.message && message.message.type === "peerLeft") {
      setStatus(settings.interviewerName + " has left the call. You can close this page.");
      setPhase("ended");
      return;
    }
    const caption = captionFrom(message);
    if (caption) addCaption(caption);
  }

  // --- consent -------------------------------------------------------------------------------

  async function giveConsent() {
    const response = await fetch(settings.consentUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ agreed: true, consentTextVersion: settings.consentTextVersion }),
    });
    if (response.ok) return response.json();
    if (response.status === 401) {
      throw new Error("This link has expired. Ask the person who invited you for a new one.");
    }
    if (response.status === 409) throw new Error("This interview has ended.");
    throw new Error(await problem(response));
  }

  // --- local rooms: WebRTC through the gateway -------------------------------------------------

  function iceGatheringComplete(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (pc.iceGatheringState === "complete") {
          pc.removeEventListener("icegatheringstatechange", check);
          resolve();
        }
      };
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(resolve, ICE_GATHERING_TIMEOUT_MS);
    });
  }

  async function postOffer(description) {
    for (let attempt = 1; ; attempt += 1) {
      if (state.left) throw new Error("You have left the interview.");
      let response = null;
      try {
        response = await fetch(settings.offerUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + settings.token },
          body: JSON.stringify({ sdp: description.sdp, type: description.type }),
        });
      } catch (e) {
        response = null; // the network: try again
      }
      if (response && response.ok) return response.json();
      if (response && response.status === 401) {
        throw new Error("This link has expired. Ask the person who invited you for a new one.");
      }
      if (response) {
        const error = await errorOf(response);
        if (!worthRetrying(response.status, error)) throw new Error(error.message);
      }
      const now = await pageState();
      const waiting = now && now.dispatchedAt && now.status === "ready";
      if (now && !waiting && now.status !== "active") {
        // The interviewer gave up waiting for the connection (or the interview ended meanwhile).
        throw new StartAgain(now.status === "ready"
          ? settings.interviewerName + " could not reach you. Check your connection, then press Start again."
          : "This interview has ended.");
      }
      if (attempt >= OFFER_ATTEMPTS && !(now && now.queue)) {
        throw new Error(settings.interviewerName + " is not ready yet. Please reload this page to try again.");
      }
      setStatus(queueText(now && now.queue));
      await sleep(OFFER_RETRY_MS);
    }
  }

  function StartAgain(message) {
    this.message = message;
  }

  function onConnectionState() {
    const pc = state.pc;
    if (!pc || state.left) return;
    if (pc.connectionState === "connected") {
      setPhase("connected");
      setStatus("Connected. " + settings.interviewerName + " will speak first.");
    } else if (pc.connectionState === "failed") {
      setPhase("error");
      setStatus("The connection failed. Check your network and reload this page.", true);
    } else if (pc.connectionState === "disconnected") {
      setStatus("The connection dropped; trying to reconnect…");
    }
  }

  // --- the microphone check, and the connection made ready before Start ---------------------------

  async function openMicrophone() {
    if (state.mic) return state.mic;
    try {
      state.mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (e) {
      throw new Error("We could not use your microphone. Allow this page to use it in your browser, then reload.");
    }
    return state.mic;
  }

  function showLevel(stream) {
    // The bar follows the voice, so the candidate sees that the microphone hears them.
    try {
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      state.meter = { ctx: ctx, timer: setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const x of samples) sum += x * x;
        el("mic-level").value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      }, 100) };
    } catch (e) {
      el("mic-level").hidden = true; // no level shown, the microphone still works
    }
  }

  function stopLevel() {
    if (!state.meter) return;
    clearInterval(state.meter.timer);
    state.meter.ctx.close().catch(() => {});
    state.meter = null;
  }

  async function prepareLocal() {
    // The offer (with its ICE candidates) is ready before Start: after it only the trip to the interviewer remains.
    const mic = await openMicrophone();
    const pc = new RTCPeerConnection({ iceServers: settings.iceServers });
    state.pc = pc;
    // Audio first: the bot reads the first transceiver as the candidate's microphone.
    pc.addTransceiver(mic.getAudioTracks()[0], { direction: "sendrecv", streams: [mic] });
    pc.addEventListener("track", (event) => {
      const audio = el("interviewer-audio");
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      audio.play().catch(() => setStatus("Press play to hear " + settings.interviewerName + "."));
      audio.controls = true;
    });
    pc.addEventListener("connectionstatechange", onConnectionState);

    const channel = pc.createDataChannel("chat", { ordered: true });
    state.channel = channel;
    channel.addEventListener("open", () => {
      state.pingTimer = setInterval(() => {
        if (channel.readyState === "open") channel.send("ping: " + Date.now());
      }, PING_MS);
    });
    channel.addEventListener("message", (event) => handleDataMessage(event.data));

    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    state.prepared = pc.localDescription;
  }

  async function connectLocal() {
    setPhase("offering");
    setStatus("Connecting to " + settings.interviewerName + "…");
    const pc = state.pc;
    const answer = await postOffer(state.prepared);
    state.pcId = answer.pc_id || answer.pcId || null;
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    if (pc.connectionState !== "connected") {
      setPhase("answered");
      setStatus("Connecting to " + settings.interviewerName + "…");
    }
  }

  // --- Daily rooms: Daily's prebuilt UI -------------------------------------------------------

  function openDaily() {
    if (!settings.roomUrl) {
      throw new Error("The interview room is not open yet. Please reload this page in a minute.");
    }
    const url = new URL(settings.roomUrl);
    if (settings.meetingToken) url.searchParams.set("t", settings.meetingToken);
    el("daily-frame").src = url.href;
    el("daily-link").href = url.href;
    el("daily").hidden = false;
    el("captions-panel").hidden = true; // Daily's own room shows its captions
    setPhase("daily");
    setStatus("The interview room is open below. Allow your microphone when your browser asks.");
  }

  // --- the page ------------------------------------------------------------------------------

  function leave() {
    state.left = true;
    stopLevel();
    resetConnection();
    if (state.mic) state.mic.getTracks().forEach((track) => track.stop());
    el("daily-frame").removeAttribute("src");
    setPhase("left");
    setStatus("You have left the interview. You can close this page.");
    el("leave-button").hidden = true;
  }

  async function onConsent(event) {
    event.preventDefault();
    const box = el("consent-checkbox");
    const error = el("consent-error");
    const button = el("consent-button");
    if (!box.checked) {
      error.textContent = "Tick the box to agree before you join.";
      error.hidden = false;
      box.setAttribute("aria-invalid", "true");
      box.focus();
      return;
    }
    error.hidden = true;
    box.removeAttribute("aria-invalid");
    button.disabled = true;
    try {
      const consent = await giveConsent();
      // A Daily room and the candidate's meeting token are handed out only once they consented.
      settings.roomUrl = consent.roomUrl || settings.roomUrl;
      settings.meetingToken = consent.meetingToken || settings.meetingToken;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      button.disabled = false;
      return;
    }
    el("consent").hidden = true;
    await showReady();
  }

  function startError(message) {
    const error = el("start-error");
    error.textContent = message;
    error.hidden = !message;
  }

  async function showReady(message) {
    el("ready").hidden = false;
    el("call").hidden = true;
    el("ready-heading").focus();
    startError(message || "");
    const button = el("start-button");
    button.disabled = true;
    if (settings.transport === "daily") {
      el("mic-check").hidden = true; // Daily's room checks the microphone itself
      button.disabled = false;
      return;
    }
    el("mic-status").textContent = "Asking for your microphone…";
    try {
      await prepareLocal();
    } catch (e) {
      el("mic-status").textContent = e.message;
      el("mic-status").classList.add("error");
      return;
    }
    showLevel(state.mic);
    el("mic-status").textContent = "Your microphone works: say something and watch the bar move.";
    button.disabled = false;
    button.focus();
  }

  async function startInterview() {
    const response = await fetch(settings.startUrl, { method: "POST", headers: { Accept: "application/json" } });
    if (response.ok) return response.json();
    const error = await errorOf(response);
    if (response.status === 401) throw new Error("This link has expired. Ask the person who invited you for a new one.");
    throw new Error(error.message);
  }

  async function onStart() {
    const button = el("start-button");
    button.disabled = true;
    startError("");
    let started;
    try {
      started = await startInterview();
    } catch (e) {
      startError(e.message);
      button.disabled = false;
      return;
    }
    stopLevel();
    el("ready").hidden = true;
    el("call").hidden = false;
    el("call-heading").focus();
    if (started.queue) setStatus(queueText(started.queue));
    try {
      if (settings.transport === "daily") openDaily();
      else await connectLocal();
    } catch (e) {
      if (e instanceof StartAgain && !state.left) {
        resetConnection();
        await showReady(e.message);
        return;
      }
      setPhase("error");
      setStatus(e.message, true);
    }
  }

  function resetConnection() {
    clearInterval(state.pingTimer);
    if (state.channel) state.channel.close();
    if (state.pc) state.pc.close();
    state.pc = state.channel = state.prepared = null;
  }

  el("consent-form").addEventListener("submit", onConsent);
  el("start-button").addEventListener("click", onStart);
  el("leave-button").addEventListener("click", leave);
  window.addEventListener("pagehide", () => {
    if (!state.left) leave();
  });

  window.voiceJoin = { addCaption: addCaption, handleDataMessage: handleDataMessage, state: state };
})();
