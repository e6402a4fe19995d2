// Signature pad: pointer events (mouse, touch, pen) draw on a canvas;
// Clear wipes it, Save uploads it as PNG.
'use strict';
(function () {
  var box = document.getElementById('signature');
  if (!box) { return; }
  var pad = document.getElementById('signature-pad');
  var status = document.getElementById('signature-status');
  var ctx = pad.getContext('2d');
  var drawing = false;
  var dirty = false;

  ctx.lineWidth = 3;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = '#10204a';

  function point(e) {
    var r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }

  pad.addEventListener('pointerdown', function (e) {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    var p = point(e);
    ctx.beginPath();
    ctx.moveTo(p[0], p[1]);
  });
  pad.addEventListener('pointermove', function (e) {
    if (!drawing) { return; }
    var p = point(e);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    dirty = true;
  });
  function stop() { drawing = false; }
  pad.addEventListener('pointerup', stop);
  pad.addEventListener('pointercancel', stop);

  document.getElementById('signature-clear').addEventListener('click', function () {
    ctx.clearRect(0, 0, pad.width, pad.height);
    dirty = false;
    status.textContent = '';
    delete status.dataset.state;
  });
  document.getElementById('signature-save').addEventListener('click', function () {
    if (!dirty) {
      status.textContent = status.dataset.empty;
      status.dataset.state = 'error';
      return;
    }
    pad.toBlob(function (blob) {
      if (blob) { window.portalPost(box.dataset.url, blob, status); }
    }, 'image/png');
  });
}());
