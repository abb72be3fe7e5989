// @ts-check
/**
 * What the phone can attach, made in the page (nothing comes from the
 * internet): a photo drawn on a canvas, a small PDF, or a file the tester
 * picks. Each becomes the JSON the simulator's media endpoint takes.
 */

/** @typedef {import("./api.js").MediaUpload} MediaUpload */

/** @param {Uint8Array} bytes @returns {string} */
export function toBase64(bytes) {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/**
 * The message kind LINE would give a file of this type.
 * @param {string} contentType
 * @returns {MediaUpload["kind"]}
 */
export function kindOf(contentType) {
  if (contentType.startsWith("image/")) return "image";
  if (contentType.startsWith("video/")) return "video";
  if (contentType.startsWith("audio/")) return "audio";
  return "file";
}

/** @param {Date} at */
const stamp = (at) =>
  `${at.getFullYear()}${String(at.getMonth() + 1).padStart(2, "0")}${String(at.getDate()).padStart(2, "0")}` +
  `-${String(at.getHours()).padStart(2, "0")}${String(at.getMinutes()).padStart(2, "0")}${String(at.getSeconds()).padStart(2, "0")}`;

/**
 * A photo drawn here: a sky, a sun and a caption with the user's name.
 * @param {string} caption
 * @returns {Promise<{upload: MediaUpload, dataUrl: string}>}
 */
export async function drawnPhoto(caption) {
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const g = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  const sky = g.createLinearGradient(0, 0, 0, 480);
  sky.addColorStop(0, "#7cc4ff");
  sky.addColorStop(1, "#e8f6ff");
  g.fillStyle = sky;
  g.fillRect(0, 0, 640, 480);
  g.fillStyle = "#ffcf33";
  g.beginPath();
  g.arc(500, 120, 60, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = "#3aa655";
  g.beginPath();
  g.moveTo(0, 480);
  g.lineTo(0, 340);
  g.quadraticCurveTo(200, 250, 380, 340);
  g.quadraticCurveTo(520, 400, 640, 330);
  g.lineTo(640, 480);
  g.closePath();
  g.fill();
  g.fillStyle = "#0f172a";
  g.font = "bold 34px system-ui, sans-serif";
  g.fillText(caption.slice(0, 28), 32, 440);
  const dataUrl = canvas.toDataURL("image/png");
  const at = new Date();
  return {
    dataUrl,
    upload: {
      kind: "image",
      file_name: `photo-${stamp(at)}.png`,
      content_type: "image/png",
      data_base64: dataUrl.slice(dataUrl.indexOf(",") + 1),
    },
  };
}

/**
 * A one-page PDF saying who sent it and when (a valid file: its xref offsets are counted).
 * @param {string} author
 * @returns {{upload: MediaUpload, size: number}}
 */
export function generatedPdf(author) {
  const at = new Date();
  const ascii = (/** @type {string} */ text) => text.replace(/[^\x20-\x7e]/g, "?").replace(/[()\\]/g, "\\$&");
  const lines = [`Receipt from ${ascii(author)}`, `Sent from the LINE simulator on ${at.toISOString()}`];
  const stream = `BT /F1 18 Tf 72 760 Td (${lines[0]}) Tj 0 -28 Td /F1 11 Tf (${lines[1]}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let pdf = "%PDF-1.4\n";
  /** @type {number[]} */
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  const bytes = new TextEncoder().encode(pdf);
  return {
    size: bytes.length,
    upload: {
      kind: "file",
      file_name: `receipt-${stamp(at)}.pdf`,
      content_type: "application/pdf",
      data_base64: toBase64(bytes),
    },
  };
}

/**
 * A file the tester picked.
 * @param {File} file
 * @returns {Promise<{upload: MediaUpload, dataUrl: string | null}>}
 */
export async function pickedFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const contentType = file.type || "application/octet-stream";
  const kind = kindOf(contentType);
  const data = toBase64(bytes);
  return {
    dataUrl: kind === "image" ? `data:${contentType};base64,${data}` : null,
    upload: { kind, file_name: file.name || null, content_type: contentType, data_base64: data },
  };
}
