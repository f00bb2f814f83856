import { useWebBackend, loadModelFromSource, UrlSource, runTask, parseSettings, renderHtml } from 'gradlens/web';

await useWebBackend({ wasmPaths: '/ort/' });                             // onnxruntime-web's .wasm files
const model = await loadModelFromSource(new UrlSource('/models/qa/'));   // or BlobSource.pickedFolder(files), new HubSource('owner/name')
const result = await runTask('qa', model, {
  question: 'What is important to us?',
  context: 'It is important to us to include, empower and support humans of all kinds.',
}, undefined, parseSettings({ steps: '50' }), { onProgress: ({ done, total }) => console.log(done, total) });
document.querySelector('#report')!.innerHTML = renderHtml([result]);
