import { notYet } from "./notYet.js";

export const command = notYet(
  "image",
  "pull, list and remove guest images assembled from Debian packages",
  `Usage: typevisor image pull|ls|rm|path [NAME]`,
  6,
);
