// Face photo from the webcam: live preview, Capture draws the frame on a
// canvas and uploads it as JPEG; Retake goes back to the preview. Without
// a camera, a file input is shown instead.
'use strict';
(function () {
  var box = document.getElementById('selfie');
  if (!box) { return; }
  var camera = document.getElementById('selfie-camera');
  var video = document.getElementById('selfie-video');
  var canvas = document.getElementById('selfie-canvas');
  var capture = document.getElementById('selfie-capture');
  var retake = document.getElementById('selfie-retake');
  var fallback = document.getElementById('selfie-fallback');
  var file = document.getElementById('selfie-file');
  var status = document.getElementById('selfie-status');
  var url = box.dataset.url;

  function noCamera() {
    camera.hidden = true;
    fallback.hidden = false;
  }

  file.addEventListener('change', function () {
    if (file.files.length) { window.portalPost(url, file.files[0], status); }
  });

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { noCamera(); return; }
  navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false })
    .then(function (stream) {
      video.srcObject = stream;
      camera.hidden = false;
      video.addEventListener('loadeddata', function () { capture.disabled = false; }, { once: true });
    })
    .catch(noCamera);

  capture.addEventListener('click', function () {
    if (!video.videoWidth) { return; }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    video.hidden = true;
    canvas.hidden = false;
    capture.hidden = true;
    retake.hidden = false;
    canvas.toBlob(function (blob) {
      if (blob) { window.portalPost(url, blob, status); }
    }, 'image/jpeg', 0.9);
  });

  retake.addEventListener('click', function () {
    video.hidden = false;
    canvas.hidden = true;
    capture.hidden = false;
    retake.hidden = true;
  });
}());
