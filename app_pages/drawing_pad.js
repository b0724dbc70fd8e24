// Digit Lab's drawing pad: white ink on a black square, with Undo and Clear. The picture goes to Python as a PNG
// data URL the moment the pen lifts (no debounce), so a prediction can follow each stroke at once.

const pads = new WeakMap(); // parent element -> the pad's state, kept across the reruns that re-invoke this module

function paintStroke(context, stroke) {
  const [first, ...rest] = stroke.points;
  context.beginPath();
  if (!rest.length) { // a tap: a round dot as wide as the pen
    context.fillStyle = "#fff";
    context.arc(first[0], first[1], stroke.width / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  context.lineWidth = stroke.width;
  context.moveTo(first[0], first[1]);
  for (const [x, y] of rest) context.lineTo(x, y);
  context.stroke();
}

function repaint(pad) {
  const { context, canvas } = pad;
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  for (const stroke of pad.strokes) paintStroke(context, stroke);
}

function setUpPad(root) {
  const canvas = root.querySelector("canvas");
  const context = canvas.getContext("2d");
  const pad = { canvas, context, strokes: [], current: null, width: 20, side: 0, send: () => {} };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  const reset = () => { // canvas state is lost when its size changes: set the pen up again
    context.strokeStyle = "#fff";
    context.lineCap = "round";
    context.lineJoin = "round";
    repaint(pad);
  };
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    pad.current = { width: pad.width, points: [at(event)] };
    pad.strokes.push(pad.current);
    paintStroke(context, pad.current);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pad.current) return;
    const points = pad.current.points;
    const next = at(event);
    points.push(next);
    paintStroke(context, { width: pad.current.width, points: [points[points.length - 2], next] });
  });
  const lift = () => {
    if (!pad.current) return;
    pad.current = null;
    repaint(pad); // whole strokes, not the segments painted live: the same strokes always give the same picture
    pad.send();
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  root.querySelector('[data-action="undo"]').addEventListener("click", () => {
    if (pad.strokes.pop()) { repaint(pad); pad.send(); }
  });
  root.querySelector('[data-action="clear"]').addEventListener("click", () => {
    pad.strokes = [];
    repaint(pad);
    pad.send();
  });
  pad.resize = (side) => {
    pad.side = side;
    canvas.width = canvas.height = side;
    canvas.style.width = canvas.style.height = `${side}px`;
    reset();
  };
  return pad;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let pad = pads.get(parentElement);
  if (!pad) {
    pad = setUpPad(parentElement);
    pads.set(parentElement, pad);
  }
  if (pad.side !== data.side) pad.resize(data.side);
  pad.width = data.strokeWidth;
  pad.send = () => setStateValue("png", pad.strokes.length ? pad.canvas.toDataURL("image/png") : null);
}
