// The call test's client, run in two headless Chromium pages served from Tessera's own origin.
// Each page signs in, opens the live WebSocket, and takes part in one call: the caller places it
// and sends a WebRTC offer once it is answered; the receiver answers when it rings. Offers,
// answers and ICE candidates go through Tessera's signaling; the data channel between the two
// pages carries a message each way. Each function resolves with the message its page received.

async function signIn(email, password) {
  const res = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login: ${res.status}`);
  const login = await res.json();
  const ws = new WebSocket(`ws://${location.host}/ws?access_token=${login.access_token}`);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error('ws')); });
  return { token: login.access_token, userId: login.user.user_id, ws };
}

// Handles the WebSocket's frames one at a time, in order (an offer before its candidates).
function onFrames(ws, handle) {
  let chain = Promise.resolve();
  ws.onmessage = (ev) => {
    const frame = JSON.parse(ev.data);
    chain = chain.then(() => handle(frame)).catch((e) => { window.__error = String(e); });
  };
}

function signal(ws, callId, kind, data) {
  ws.send(JSON.stringify({ type: 'signal', call_id: callId, kind, data }));
}

function within(ms, promise) {
  return Promise.race([promise, new Promise((_, fail) => setTimeout(() => fail(new Error('timed out')), ms))]);
}

window.receive = async (email, password) => {
  const me = await signIn(email, password);
  let pc = null;
  let callId = null;
  const got = new Promise((resolve) => {
    onFrames(me.ws, async (f) => {
      if (f.type === 'call' && f.call.status === 'ringing' && f.call.receiver.user_id === me.userId) {
        callId = f.call.call_id;
        pc = new RTCPeerConnection({ iceServers: [] });
        pc.onicecandidate = (e) => { if (e.candidate) signal(me.ws, callId, 'ice', e.candidate.toJSON()); };
        pc.ondatachannel = (e) => {
          e.channel.onmessage = (m) => { e.channel.send('pong from the receiver'); resolve(m.data); };
        };
        const res = await fetch(`/calls/${callId}/answer`, {
          method: 'POST', headers: { authorization: `Bearer ${me.token}` },
        });
        if (!res.ok) throw new Error(`answer: ${res.status}`);
      } else if (f.type === 'signal' && f.kind === 'offer') {
        await pc.setRemoteDescription(f.data);
        await pc.setLocalDescription(await pc.createAnswer());
        signal(me.ws, callId, 'answer', pc.localDescription.toJSON());
      } else if (f.type === 'signal' && f.kind === 'ice') {
        await pc.addIceCandidate(f.data);
      }
    });
  });
  window.__ready = true;
  return within(20000, got);
};

window.place = async (email, password, receiverId) => {
  const me = await signIn(email, password);
  const res = await fetch('/calls', {
    method: 'POST',
    headers: { authorization: `Bearer ${me.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver_id: receiverId }),
  });
  if (res.status !== 201) throw new Error(`call: ${res.status}`);
  const call = await res.json();
  const pc = new RTCPeerConnection({ iceServers: call.ice_servers });
  const channel = pc.createDataChannel('chat');
  pc.onicecandidate = (e) => { if (e.candidate) signal(me.ws, call.call_id, 'ice', e.candidate.toJSON()); };
  const got = new Promise((resolve) => { channel.onmessage = (m) => resolve(m.data); });
  channel.onopen = () => channel.send('hello from the caller');
  onFrames(me.ws, async (f) => {
    if (f.type === 'call' && f.call.call_id === call.call_id && f.call.status === 'active') {
      await pc.setLocalDescription(await pc.createOffer());
      signal(me.ws, call.call_id, 'offer', pc.localDescription.toJSON());
    } else if (f.type === 'signal' && f.kind === 'answer') {
      await pc.setRemoteDescription(f.data);
    } else if (f.type === 'signal' && f.kind === 'ice') {
      await pc.addIceCandidate(f.data);
    }
  });
  const message = await within(20000, got);
  await fetch(`/calls/${call.call_id}/end`, { method: 'POST', headers: { authorization: `Bearer ${me.token}` } });
  return message;
};
