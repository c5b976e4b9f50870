/*
 * The candidate's join page: consent first, then the interview.
 *
 * Local rooms: microphone -> RTCPeerConnection -> the offer is POSTed to the gateway with the join
 * token -> the bot's answer; the bot's audio plays and its data-channel messages become captions.
 * Daily rooms: Daily's prebuilt room in a frame, opened with the candidate's meeting token.
 *
 * Live captions: every caption source calls window.voiceJoin.addCaption({speaker, text, final}).
 * Today that is the bot's data channel (handleDataMessage); the live transcript WebSocket can
 * call the same hook.
 */
"use strict";

(function () {
  const settings = JSON.parse(document.getElementById("join-settings").textContent);
  const el = (id) => document.getElementById(id);

  // Answers that mean "not yet" (the bot is still starting, or the session not started yet).
  const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
  const OFFER_RETRY_MS = 3000;
  const OFFER_ATTEMPTS = 40;
  const ICE_GATHERING_TIMEOUT_MS = 3000;
  const PING_MS = 1000; // the bot's transport counts the candidate as gone after 3 s without one

  const state = { pc: null, mic: null, channel: null, pingTimer: null, pcId: null, left: false };

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
    const details = error.details || {};
    if (details.retryable === true) return true;
    // The interview has not been started yet: the room opens when it is.
    return error.code === "session_not_joinable" && details.status === "pending";
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
      if (state.left || attempt >= OFFER_ATTEMPTS) {
        throw new Error(settings.interviewerName + " is not ready yet. Please reload this page to try again.");
      }
      setStatus("Waiting for " + settings.interviewerName + " to be ready…");
      await sleep(OFFER_RETRY_MS);
    }
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

  async function connectLocal() {
    setPhase("microphone");
    setStatus("Asking for your microphone…");
    try {
      state.mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (e) {
      throw new Error("We could not use your microphone. Allow this page to use it in your browser, then reload.");
    }
    const pc = new RTCPeerConnection({ iceServers: settings.iceServers });
    state.pc = pc;
    // Audio first: the bot reads the first transceiver as the candidate's microphone.
    pc.addTransceiver(state.mic.getAudioTracks()[0], { direction: "sendrecv", streams: [state.mic] });
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

    setPhase("offering");
    setStatus("Connecting to " + settings.interviewerName + "…");
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    const answer = await postOffer(pc.localDescription);
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
    clearInterval(state.pingTimer);
    if (state.channel) state.channel.close();
    if (state.pc) state.pc.close();
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
    el("call").hidden = false;
    el("call-heading").focus();
    try {
      if (settings.transport === "daily") openDaily();
      else await connectLocal();
    } catch (e) {
      setPhase("error");
      setStatus(e.message, true);
    }
  }

  el("consent-form").addEventListener("submit", onConsent);
  el("leave-button").addEventListener("click", leave);
  window.addEventListener("pagehide", () => {
    if (!state.left) leave();
  });

  window.voiceJoin = { addCaption: addCaption, handleDataMessage: handleDataMessage, state: state };
})();
