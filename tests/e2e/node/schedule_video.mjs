// The API reference's Node example (axios), pointed at the local stack. The test passes the
// base URL, the API key and the publish time in the environment and reads one JSON line back.
import axios from 'axios';

const scheduleVideo = async () => {
  try {
    const response = await axios.post(
      `${process.env.API_URL}/api/v1/schedule/create`,
      {
        videoId: process.env.VIDEO_ID,
        tiktokAccountId: process.env.TIKTOK_ACCOUNT_ID,
        scheduledPublishTime: process.env.PUBLISH_TIME,
        title: 'Scheduled Amazing Video',
        hashtags: '#trending #viral'
      },
      {
        headers: {
          'Authorization': `Bearer ${process.env.API_KEY}`,
          'Content-Type': 'application/json'
        },
        proxy: false
      }
    );
    console.log(JSON.stringify({ status: response.status, data: response.data }));
  } catch (error) {
    console.log(JSON.stringify({
      status: error.response?.status ?? null,
      data: error.response?.data ?? null,
      error: error.message
    }));
    process.exitCode = 1;
  }
};

await scheduleVideo();
