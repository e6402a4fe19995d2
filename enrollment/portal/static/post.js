// portalPost uploads one image (a Blob) to url with the page's CSRF token
// and writes the outcome into the status element: its data-* attributes
// hold the texts in the page's language, the server's JSON says the rest.
'use strict';
window.portalPost = function (url, blob, status) {
  var token = document.querySelector('meta[name="csrf-token"]').content;
  status.dataset.state = 'uploading';
  status.textContent = status.dataset.uploading;
  return fetch(url, {
    method: 'POST', credentials: 'same-origin', body: blob,
    headers: { 'X-CSRF-Token': token, 'Content-Type': blob.type || 'application/octet-stream' }
  }).then(function (r) {
    return r.json();
  }).then(function (j) {
    status.textContent = j.message;
    status.dataset.state = j.ok ? 'saved' : 'error';
  }).catch(function () {
    status.textContent = status.dataset.failed;
    status.dataset.state = 'error';
  });
};
